/**
 * Chat with a base model or one of the key's fine-tuned models: the conversation is sent whole on each turn and
 * the answer is streamed in as the server generates it.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api, Model } from './api';
import { ErrorLine } from './error-line';

interface Turn {
  role: 'user' | 'assistant';
  content: string;
}

export function Playground({ api, initialModel }: { api: Api; initialModel: string | undefined }) {
  const [models, setModels] = useState<Model[] | null>(null);
  const [model, setModel] = useState(initialModel ?? '');
  const [turns, setTurns] = useState<Turn[]>([]);
  const [message, setMessage] = useState('');
  const [streaming, setStreaming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    let alive = true;
    api.listModels().then(
      (found) => {
        if (!alive) return;
        setModels(found);
        // A fine-tuned model (the newest) is what one usually came to try.
        setModel((current) => current || (found.find((m) => m.id.startsWith('ft:')) ?? found[0])?.id || '');
      },
      (caught: Error) => alive && setError(caught.message),
    );
    return () => {
      alive = false;
      abort.current?.abort();
    };
  }, [api]);

  const send = async (event: Event) => {
    event.preventDefault();
    const text = message.trim();
    if (!text || !model || streaming) return;
    const history: Turn[] = [...turns, { role: 'user', content: text }];
    setTurns([...history, { role: 'assistant', content: '' }]);
    setMessage('');
    setError(null);
    setStreaming(true);
    abort.current = new AbortController();
    try {
      await api.chat(
        model,
        history,
        (delta) =>
          setTurns((current) => {
            const last = current.at(-1)!;
            return [...current.slice(0, -1), { ...last, content: last.content + delta }];
          }),
        abort.current.signal,
      );
    } catch (caught) {
      if (!abort.current.signal.aborted) setError((caught as Error).message);
    } finally {
      setStreaming(false);
    }
  };

  const listed = models ?? [];
  const options =
    listed.some((m) => m.id === model) || !model ? listed : [{ id: model, owned_by: '' }, ...listed];
  return (
    <section aria-labelledby="playground-heading" class="playground">
      <h2 id="playground-heading">Playground</h2>
      <label class="field">
        Model
        <select value={model} onChange={(event) => setModel(event.currentTarget.value)} disabled={streaming}>
          <optgroup label="Fine-tuned">
            {options
              .filter((m) => m.id.startsWith('ft:'))
              .map((m) => (
                <option key={m.id} value={m.id}>
                  {m.id}
                </option>
              ))}
          </optgroup>
          <optgroup label="Base">
            {options
              .filter((m) => !m.id.startsWith('ft:'))
              .map((m) => (
                <option key={m.id} value={m.id}>
                  {m.id}
                </option>
              ))}
          </optgroup>
        </select>
      </label>
      <ol class="conversation" aria-label="Conversation" aria-live="polite">
        {turns.map((turn, i) => (
          <li
            // Turns are only ever appended.
            key={i}
            class={`turn turn-${turn.role}`}
            aria-busy={streaming && i === turns.length - 1}
          >
            <span class="speaker">{turn.role === 'user' ? 'You' : 'Model'}</span>
            <p>{turn.content}</p>
          </li>
        ))}
      </ol>
      <ErrorLine error={error} />
      <form class="compose" onSubmit={send}>
        <label class="field grow">
          Message
          <textarea
            value={message}
            rows={2}
            onInput={(event) => setMessage(event.currentTarget.value)}
            onKeyDown={(event) => {
              if (event.key === 'Enter' && !event.shiftKey) send(event);
            }}
          />
        </label>
        <div class="compose-buttons">
          <button type="submit" disabled={streaming || !model || !message.trim()}>
            Send
          </button>
          {streaming ? (
            <button type="button" onClick={() => abort.current?.abort()}>
              Stop
            </button>
          ) : (
            <button type="button" disabled={turns.length === 0} onClick={() => setTurns([])}>
              Clear
            </button>
          )}
        </div>
      </form>
    </section>
  );
}
