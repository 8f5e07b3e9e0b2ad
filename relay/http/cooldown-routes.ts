// `/api/runs/:id/cooldown`: where the run's learning-rate schedule stands, and the operator's
// start of its cooldown (protocol/cooldown-api.ts has the contract, relay/rounds/run-cooldown.ts
// the rules). Starting it needs the operator token (operator-token.ts).
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { CooldownBody } from '../../protocol/cooldown-api.ts';
import type { ErrorBody } from '../../protocol/http-body.ts';
import { Coordinator } from '../rounds/coordinator.ts';
import type { RelayRun } from '../run/relay-run.ts';
import { operatorAuth } from './operator-token.ts';

export function cooldownRoutes(run: RelayRun, operatorToken: string | null): Hono {
  const routes = new Hono();
  const coordinatorOf = (id: string): Coordinator => {
    if (id !== run.id) throw new HTTPException(404, { message: `no run ${JSON.stringify(id.slice(0, 64))}` });
    if (!(run.coordinator instanceof Coordinator))
      throw new HTTPException(409, {
        message: 'a pipeline run follows the cosine over its steps: it has no cooldown',
      });
    return run.coordinator;
  };

  routes.get('/:id/cooldown', (c) =>
    c.json(coordinatorOf(c.req.param('id')).cooldownView() satisfies CooldownBody),
  );

  routes.post('/:id/cooldown', operatorAuth(operatorToken), async (c) => {
    const outcome = await coordinatorOf(c.req.param('id')).startCooldown();
    if (outcome.kind === 'started') {
      run.log.info({ cooldownFrom: outcome.body.cooldownFrom }, 'the operator started the cooldown');
      return c.json(outcome.body satisfies CooldownBody, 201);
    }
    return c.json(
      { error: { code: outcome.code, message: outcome.message } } satisfies ErrorBody,
      outcome.status,
    );
  });
  return routes;
}
