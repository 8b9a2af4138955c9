/**
 * For crash.test.ts: arms the parent-death signal, prints `armed <pid>`, then keeps its main thread busy forever,
 * so nothing but the kernel can end it when its parent dies.
 */
import { exitWithParent } from '../../../native/index';

const armed = exitWithParent(process.ppid);
process.stdout.write(`${armed ? 'armed' : 'unsupported'} ${process.pid}\n`, () => {
  for (;;) {
    // busy: no event loop turn, no IPC handling
  }
});
