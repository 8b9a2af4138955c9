/** `GET /health`: liveness without authentication. tunekit extension. */
import { z } from 'zod';

export const HealthResponseSchema = z
  .object({
    status: z.literal('ok'),
    version: z.string().describe('tunekit version of the server.'),
    cpu: z
      .enum(['avx512', 'avx2', 'portable'])
      .nullable()
      .describe(
        "The engine's CPU kernel path (chosen at load time from the CPU's instruction sets, or forced by TUNEKIT_CPU); null when the native engine is not built or TUNEKIT_CPU names a path this CPU cannot run.",
      ),
  })
  .meta({ id: 'HealthResponse', description: 'The server is up. tunekit extension.' });
export type HealthResponse = z.infer<typeof HealthResponseSchema>;
