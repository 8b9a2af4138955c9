// vitest globalSetup: one emulator for the whole run (a free port, a temporary data folder), stopped at the end.
import { startEmulator } from '@tunekit/emulator';

export default async function setup({ provide }) {
  const emulator = await startEmulator();
  provide('tunekitBaseURL', emulator.baseURL);
  return () => emulator.stop();
}
