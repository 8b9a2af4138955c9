/** Uploaded files: a row in `files`, the bytes in <data>/files/<file-id>. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Database from 'better-sqlite3';
import { newId } from '../contract/common';
import type { FileObject, FilePurpose } from '../contract/files';
import { commitTmp, streamToTmp, TooLargeError, tmpPath } from './blobs';
import { EmulatorError, insufficientStorage, isOutOfSpace } from './errors';
import type { DataPaths, FileListQuery, FileRepo, FileUpload, PageWithIds } from './index';
import { nowSeconds, pageWithIds, prepared } from './paging';

interface FileRow {
  n: number;
  id: string;
  project_id: string;
  bytes: number;
  created_at: number;
  expires_at: number | null;
  filename: string;
  purpose: string;
  status: string;
  status_details: string | null;
}

function toFileObject(row: FileRow): FileObject {
  return {
    id: row.id,
    object: 'file',
    bytes: row.bytes,
    created_at: row.created_at,
    ...(row.expires_at === null ? {} : { expires_at: row.expires_at }),
    filename: row.filename,
    purpose: row.purpose as FilePurpose,
    status: row.status as FileObject['status'],
    status_details: row.status_details,
  };
}

export class SqliteFileRepo implements FileRepo {
  constructor(
    private readonly db: Database.Database,
    private readonly paths: DataPaths,
  ) {}

  async createFromUpload(projectId: string, upload: FileUpload): Promise<FileObject> {
    const id = upload.id ?? newId('file');
    const tmp = tmpPath(this.paths.tmp, id);
    let bytes: number;
    try {
      bytes = await streamToTmp(upload.content, tmp, upload.maxBytes);
    } catch (error) {
      if (error instanceof TooLargeError) {
        throw new EmulatorError(413, error.message, 'file', 'file_too_large');
      }
      if (isOutOfSpace(error)) throw insufficientStorage(this.paths.root, 'file');
      throw error;
    }
    try {
      await upload.check?.(tmp, bytes);
      return this.commit(projectId, id, tmp, {
        bytes,
        filename: upload.filename,
        purpose: upload.purpose,
        expiresAfterSeconds: upload.expiresAfterSeconds,
      });
    } catch (error) {
      fs.rmSync(tmp, { force: true });
      if (isOutOfSpace(error)) throw insufficientStorage(this.paths.root, 'file');
      throw error;
    }
  }

  createFromBuffer(
    projectId: string,
    file: { filename: string; purpose: FilePurpose; data: Buffer },
  ): FileObject {
    const id = newId('file');
    const tmp = tmpPath(this.paths.tmp, id);
    const fd = fs.openSync(tmp, 'wx');
    try {
      fs.writeFileSync(fd, file.data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return this.commit(projectId, id, tmp, {
      bytes: file.data.byteLength,
      filename: file.filename,
      purpose: file.purpose,
      expiresAfterSeconds: undefined,
    });
  }

  /** Blob into place first, then the row: a crash in between leaves a blob without row, swept at the next open. */
  private commit(
    projectId: string,
    id: string,
    tmp: string,
    meta: { bytes: number; filename: string; purpose: FilePurpose; expiresAfterSeconds: number | undefined },
  ): FileObject {
    commitTmp(tmp, path.join(this.paths.files, id));
    const createdAt = nowSeconds();
    const row: Omit<FileRow, 'n'> = {
      id,
      project_id: projectId,
      bytes: meta.bytes,
      created_at: createdAt,
      expires_at: meta.expiresAfterSeconds === undefined ? null : createdAt + meta.expiresAfterSeconds,
      filename: meta.filename,
      purpose: meta.purpose,
      status: 'processed',
      status_details: null,
    };
    prepared(
      this.db,
      `INSERT INTO files (id, project_id, bytes, created_at, expires_at, filename, purpose, status, status_details)
         VALUES (@id, @project_id, @bytes, @created_at, @expires_at, @filename, @purpose, @status, @status_details)`,
    ).run(row);
    return toFileObject({ n: 0, ...row });
  }

  get(projectId: string, fileId: string): FileObject | undefined {
    const row = this.row(projectId, fileId);
    return row && toFileObject(row);
  }

  list(projectId: string, query: FileListQuery): PageWithIds<FileObject> {
    const ascending = query.order === 'asc';
    const conditions = ['project_id = @projectId'];
    const params: Record<string, unknown> = { projectId, limit: query.limit + 1 };
    if (query.purpose !== undefined) {
      conditions.push('purpose = @purpose');
      params.purpose = query.purpose;
    }
    if (query.after !== undefined) {
      const cursor = this.row(projectId, query.after);
      if (!cursor) return pageWithIds([], false);
      conditions.push(ascending ? 'n > @cursor' : 'n < @cursor');
      params.cursor = cursor.n;
    }
    const rows = prepared(
      this.db,
      `SELECT * FROM files WHERE ${conditions.join(' AND ')} ORDER BY n ${ascending ? 'ASC' : 'DESC'} LIMIT (SELECT @limit)`,
    ).all(params) as FileRow[];
    const hasMore = rows.length > query.limit;
    return pageWithIds(rows.slice(0, query.limit).map(toFileObject), hasMore);
  }

  delete(projectId: string, fileId: string): boolean {
    const result = prepared(this.db, 'DELETE FROM files WHERE project_id = ? AND id = ?').run(
      projectId,
      fileId,
    );
    if (result.changes === 0) return false;
    fs.rmSync(path.join(this.paths.files, fileId), { force: true });
    return true;
  }

  blobPath(projectId: string, fileId: string): string | undefined {
    return this.row(projectId, fileId) ? path.join(this.paths.files, fileId) : undefined;
  }

  /** Blobs in <data>/files without a row (a crash between rename and insert, or during delete). */
  sweepOrphans(): void {
    const known = prepared(this.db, 'SELECT 1 FROM files WHERE id = ?').pluck();
    for (const name of fs.readdirSync(this.paths.files)) {
      if (!known.get(name)) fs.rmSync(path.join(this.paths.files, name), { force: true, recursive: true });
    }
  }

  private row(projectId: string, fileId: string): FileRow | undefined {
    return prepared(this.db, 'SELECT * FROM files WHERE project_id = ? AND id = ?').get(projectId, fileId) as
      | FileRow
      | undefined;
  }
}
