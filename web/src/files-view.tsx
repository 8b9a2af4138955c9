/**
 * The key's uploads, and uploading by file picker or drag-and-drop. An upload the server refuses stays in the
 * list as `rejected` with the server's reason (a fine-tune file that is not JSONL, say).
 */
import { useState } from 'preact/hooks';
import type { Api, FileObject } from './api';
import { ErrorLine } from './error-line';
import { formatBytes, formatTime } from './format';
import { usePolling } from './hooks';

const PURPOSES = ['fine-tune', 'batch', 'user_data', 'assistants', 'vision', 'evals'];
const REFRESH_MS = 5000;

interface Upload {
  key: string;
  name: string;
  bytes: number;
  purpose: string;
  state: 'uploading' | 'rejected';
  error?: string;
}

export function FilesView({ api }: { api: Api }) {
  const [files, setFiles] = useState<FileObject[] | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [pages, setPages] = useState(1);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [purpose, setPurpose] = useState('fine-tune');
  const [dragging, setDragging] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [revision, setRevision] = useState(0);

  usePolling(
    async (alive) => {
      try {
        const found: FileObject[] = [];
        let more = false;
        for (let page = 0; page < pages; page += 1) {
          const result = await api.listFiles(found.at(-1)?.id);
          found.push(...result.data);
          more = result.has_more;
          if (!more) break;
        }
        if (!alive()) return;
        setFiles(found);
        setHasMore(more);
        setError(null);
      } catch (caught) {
        if (alive()) setError((caught as Error).message);
      }
    },
    REFRESH_MS,
    [api, pages, revision],
  );

  const upload = async (chosen: FileList | null) => {
    for (const file of Array.from(chosen ?? [])) {
      const key = `${file.name}-${performance.now()}`;
      const entry: Upload = { key, name: file.name, bytes: file.size, purpose, state: 'uploading' };
      setUploads((current) => [entry, ...current]);
      try {
        await api.uploadFile(file, purpose);
        setUploads((current) => current.filter((u) => u.key !== key));
        setRevision((n) => n + 1);
      } catch (caught) {
        const reason = (caught as Error).message;
        setUploads((current) =>
          current.map((u) => (u.key === key ? { ...u, state: 'rejected', error: reason } : u)),
        );
      }
    }
  };

  return (
    <section aria-labelledby="files-heading" class="files">
      <h2 id="files-heading">Files</h2>
      <section
        class={`dropzone${dragging ? ' dragging' : ''}`}
        aria-label="Drop files to upload"
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(event) => {
          event.preventDefault();
          setDragging(false);
          void upload(event.dataTransfer?.files ?? null);
        }}
      >
        <p>Drop files here, or</p>
        <label class="field">
          Purpose
          <select value={purpose} onChange={(event) => setPurpose(event.currentTarget.value)}>
            {PURPOSES.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <label class="button">
          Choose files
          <input
            type="file"
            multiple
            class="visually-hidden"
            onChange={(event) => {
              void upload(event.currentTarget.files);
              event.currentTarget.value = '';
            }}
          />
        </label>
      </section>
      <ErrorLine error={error} />
      <div class="scroll">
        <table aria-labelledby="files-heading" aria-busy={files === null}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Purpose</th>
              <th scope="col">Size</th>
              <th scope="col">Status</th>
              <th scope="col">Validation errors</th>
              <th scope="col">Id</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {uploads.map((u) => (
              <FileRow
                key={u.key}
                name={u.name}
                purpose={u.purpose}
                bytes={u.bytes}
                status={u.state}
                errors={u.error}
              />
            ))}
            {files?.map((file) => (
              <FileRow
                key={file.id}
                name={file.filename}
                purpose={file.purpose}
                bytes={file.bytes}
                status={file.status}
                errors={file.status_details}
                id={file.id}
                created={file.created_at}
              />
            ))}
            {files?.length === 0 && uploads.length === 0 && (
              <tr>
                <td colSpan={7} class="empty">
                  No files for this key yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {hasMore && (
        <button type="button" onClick={() => setPages(pages + 1)}>
          Load more files
        </button>
      )}
    </section>
  );
}

/** An upload in flight or refused (no id yet), or a stored file. */
function FileRow(props: {
  name: string;
  purpose: string;
  bytes: number;
  status: string;
  errors: string | null | undefined;
  id?: string;
  created?: number;
}) {
  return (
    <tr>
      <th scope="row">{props.name}</th>
      <td>{props.purpose}</td>
      <td class="nowrap">{formatBytes(props.bytes)}</td>
      <td>
        <span class={`status status-${props.status}`}>{props.status}</span>
      </td>
      <td class="error">{props.errors ?? ''}</td>
      <td class="model-name">{props.id ?? '—'}</td>
      <td>{formatTime(props.created)}</td>
    </tr>
  );
}
