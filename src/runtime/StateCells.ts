/**
 * Saving and loading an instance's `Agent.state` cells. A saved state is an
 * object keyed by cell name, each value the JSON encoding of the cell's
 * schema, so it crosses processes and survives restarts as it is. Loading
 * decodes every cell before touching any, so a bad state changes nothing.
 */
import { Effect, Ref, Schema } from "effect"
import type { StateCell } from "../core/Agent.ts"
import { InvalidMessageError } from "../core/AgentError.ts"
import type { AgentId } from "../core/AgentId.ts"
import type { AgentState } from "../core/AgentRuntime.ts"
import { jsonCodec } from "../core/Message.ts"

const invalid = (id: AgentId) => (e: Schema.SchemaError) => new InvalidMessageError({ messageType: `state of ${id}`, issue: e.message })

/** The cells' current values, encoded. */
export const save = (id: AgentId, cells: ReadonlyArray<StateCell>): Effect.Effect<AgentState, InvalidMessageError> =>
  Effect.gen(function*() {
    const state: Record<string, unknown> = {}
    for (const cell of cells) {
      const value = yield* Ref.get(cell.ref)
      state[cell.name] = yield* Schema.encodeUnknownEffect(jsonCodec(cell.schema))(value).pipe(Effect.mapError(invalid(id)))
    }
    return state
  })

/** Sets the cells named in `state` (others keep their values), all or none. */
export const load = (id: AgentId, cells: ReadonlyArray<StateCell>, state: AgentState): Effect.Effect<void, InvalidMessageError> =>
  Effect.gen(function*() {
    const decoded: Array<readonly [StateCell, unknown]> = []
    for (const cell of cells) {
      if (!(cell.name in state)) continue
      const value = yield* Schema.decodeUnknownEffect(jsonCodec(cell.schema))(state[cell.name]).pipe(Effect.mapError(invalid(id)))
      decoded.push([cell, value])
    }
    for (const [cell, value] of decoded) yield* Ref.set(cell.ref, value)
  })
