/** The job's events as they stream in, oldest first, the newest kept in view. */
import { useLayoutEffect, useRef } from 'preact/hooks';
import type { JobEvent } from './api';

/** Lines rendered at most; a long job's early steps scroll out (the API still pages them). */
const SHOWN = 500;
const STATE_TEXT = { live: 'live', reconnecting: 'reconnecting…', ended: 'ended' } as const;

export function EventsLog({
  events,
  state,
}: {
  events: readonly JobEvent[];
  state: keyof typeof STATE_TEXT;
}) {
  const list = useRef<HTMLDivElement>(null);
  const shown = events.slice(-SHOWN);
  // Follow the tail unless the reader scrolled up.
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const element = list.current!;
    if (atBottom.current) element.scrollTop = element.scrollHeight;
  });
  return (
    <section aria-labelledby="events-heading" class="events">
      <h3 id="events-heading">
        Events <span class="stream-state">({STATE_TEXT[state]})</span>
      </h3>
      <div
        ref={list}
        class="log"
        role="log"
        aria-labelledby="events-heading"
        onScroll={(event) => {
          const element = event.currentTarget;
          atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 8;
        }}
      >
        <ol>
          {shown.map((event) => (
            <li key={event.id} class={`level-${event.level}`}>
              <time dateTime={new Date(event.created_at * 1000).toISOString()}>
                {new Date(event.created_at * 1000).toLocaleTimeString()}
              </time>{' '}
              {event.message}
            </li>
          ))}
        </ol>
      </div>
    </section>
  );
}
