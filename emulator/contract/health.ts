/** `GET /health`: liveness without authentication. tunekit extension. */
import { z } from 'zod';

export const HealthResponseSchema = z
  .object({
    status: z.literal('ok'),
    version: z.string().describe('tunekit version of the server.'),
  })
  .meta({ id: 'HealthResponse', description: 'The server is up. tunekit extension.' });
export type HealthResponse = z.infer<typeof HealthResponseSchema>;
