import { TunekitError, UnsupportedFeatureError } from '../core/errors';
import { readEnv } from '../internal/env';

/**
 * Which API the client speaks: `emulator` (tunekit's, a superset of OpenAI's; the default), `openai`, or
 * `together` (Together's fine-tuning API, mapped call by call: src/providers/together.ts).
 */
export type Provider = 'emulator' | 'openai' | 'together';

export const PROVIDERS: readonly Provider[] = ['emulator', 'openai', 'together'];

/** Each provider's default base URL and the environment variables of its key and base URL. */
export const PROVIDER_DEFAULTS: Record<Provider, { baseURL: string; keyEnv: string; baseURLEnv: string }> = {
  emulator: {
    baseURL: 'http://127.0.0.1:4100/v1',
    keyEnv: 'TUNEKIT_API_KEY',
    baseURLEnv: 'TUNEKIT_BASE_URL',
  },
  openai: { baseURL: 'https://api.openai.com/v1', keyEnv: 'OPENAI_API_KEY', baseURLEnv: 'OPENAI_BASE_URL' },
  together: {
    baseURL: 'https://api.together.ai/v1',
    keyEnv: 'TOGETHER_API_KEY',
    baseURLEnv: 'TOGETHER_BASE_URL',
  },
};

/** The `provider` option, else `TUNEKIT_PROVIDER`, else `emulator`; anything else is an error. */
export function resolveProvider(option: string | undefined): Provider {
  const value = option ?? readEnv('TUNEKIT_PROVIDER') ?? 'emulator';
  if (!(PROVIDERS as readonly string[]).includes(value)) {
    throw new TunekitError(`Unknown provider '${value}': use one of ${PROVIDERS.join(', ')}.`);
  }
  return value as Provider;
}

/** Throws UnsupportedFeatureError unless the client's provider is one of `supported`. */
export function requireProvider(
  provider: Provider,
  supported: readonly Provider[],
  feature: string,
  detail?: string,
): void {
  if (!supported.includes(provider)) throw new UnsupportedFeatureError(provider, feature, detail);
}
