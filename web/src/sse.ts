/** Reads a `text/event-stream` response body (eventsource-parser does the framing), one message at a time. */
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export async function readEventStream(
  response: Response,
  onMessage: (message: EventSourceMessage) => void,
): Promise<void> {
  if (!response.body) return;
  const parser = createParser({ onEvent: onMessage });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    parser.feed(value);
  }
}
