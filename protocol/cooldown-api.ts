// The relay's cooldown route as both sides see it (relay/http/cooldown-routes.ts answers it, the
// `npm run cooldown` command parses the answer with the same schema):
//
//   GET  /api/runs/:id/cooldown   CooldownBody: the run's schedule and where its cooldown stands
//   POST /api/runs/:id/cooldown   the operator starts the cooldown from the next round to open
//                                 (Authorization: Bearer <the relay's operator token>);
//                                 CooldownBody (201), or ErrorBody: 401 without the token, 409
//                                 for a cosine run or a cooldown already begun
import * as v from 'valibot';

/** The header's scheme: `Authorization: Bearer <token>` (RFC 6750). */
export const OPERATOR_AUTH_SCHEME = 'Bearer';

const Round = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

export const CooldownBody = v.object({
  /** The run's inner.lrSchedule kind ('cosine' when the config names none). */
  schedule: v.picklist(['cosine', 'wsd', 'infinite']),
  /** The round the cooldown begins (or began) at, from the config or the operator; null: not yet. */
  cooldownFrom: v.nullable(Round),
  /** The round the operator started it at; null: the operator has not. */
  triggered: v.nullable(Round),
  /** The next round to open, and the inner learning rate it trains at. */
  nextRound: Round,
  learningRate: v.pipe(v.number(), v.finite(), v.gtValue(0)),
});
export type CooldownBody = v.InferOutput<typeof CooldownBody>;
