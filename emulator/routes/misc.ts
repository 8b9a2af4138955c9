/** Health. */
import { engineInfo } from '../../native/index';
import type { RouteHandler } from './context';

let cpuPath: 'avx512' | 'avx2' | 'portable' | null | undefined;

/** The engine's kernel path, read once (loading the addon in this process; the trainers run the same CPU). */
export function engineCpuPath(): 'avx512' | 'avx2' | 'portable' | null {
  if (cpuPath === undefined) {
    try {
      cpuPath = engineInfo().cpu;
    } catch {
      cpuPath = null;
    }
  }
  return cpuPath;
}

export const getHealth: RouteHandler<'getHealth'> = ({ services }) => ({
  status: 'ok',
  version: services.version,
  cpu: engineCpuPath(),
});
