/** Health. */
import type { RouteHandler } from './context';

export const getHealth: RouteHandler<'getHealth'> = ({ services }) => ({
  status: 'ok',
  version: services.version,
});
