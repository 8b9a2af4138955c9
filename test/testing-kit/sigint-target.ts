/**
 * A stand-in for a test runner: starts an emulator through the public API, a training and a chat (so both child
 * processes run), prints `{ dataDir, pids }` and waits to be killed. It installs no signal handler of its own.
 */
import { startEmulator } from '../../emulator/index';
import { childPids } from '../e2e/helpers';
import { chatOnce, eventually, startLongJob } from './helpers';

const emulator = await startEmulator();
await chatOnce(emulator.baseURL);
await startLongJob(emulator.baseURL);
await eventually(() => childPids(process.pid).length >= 2, 60_000, 'training');
console.log(JSON.stringify({ dataDir: emulator.dataDir, pids: childPids(process.pid) }));
setInterval(() => {}, 1 << 30);
