/**
 * A deterministic `EmbeddingModel` that needs no provider: each text becomes
 * a bag of its lower-cased words, hashed into a fixed number of dimensions
 * and normalised to length 1 (feature hashing). Texts sharing words are
 * close in cosine similarity, texts sharing none are orthogonal (up to
 * hash collisions), and the same text always gets the same vector: enough
 * for tests, demos and offline runs of embedding memory, not a substitute
 * for a semantic model (synonyms are unrelated to it).
 */
import { Effect, Layer } from "effect"
import { EmbeddingModel } from "effect/ai"
import { type InvalidOptionsError, wholeNumber } from "../context/ModelContext.ts"

/** Options of the hashing model. */
export interface Options {
  /** Vector length (default 1024); more dimensions, fewer collisions. */
  readonly dimensions?: number | undefined
}

// FNV-1a: fast, stable across runs and platforms
const hash = (word: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < word.length; i++) {
    h ^= word.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The vector of one text: its words hashed into `dimensions`, normalised (all zeros for a text without words). */
export const embed = (text: string, dimensions = 1024): Array<number> => {
  const vector = new Array<number>(dimensions).fill(0)
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const h = hash(word)
    // the sign bit spreads collisions around zero instead of piling them up
    vector[h % dimensions]! += (h & 0x80000000) === 0 ? 1 : -1
  }
  const norm = Math.hypot(...vector)
  return norm === 0 ? vector : vector.map((x) => x / norm)
}

/** Builds the hashing embedding model (`dimensions` must be a whole number of at least 1). */
export const make = (options?: Options): Effect.Effect<EmbeddingModel.EmbeddingModel, InvalidOptionsError> =>
  wholeNumber("HashEmbeddingModel", "dimensions", options?.dimensions ?? 1024, 1).pipe(
    Effect.flatMap((dimensions) =>
      EmbeddingModel.make({
        embedMany: ({ inputs }) =>
          Effect.succeed({
            results: inputs.map((input) => embed(input, dimensions)),
            usage: { inputTokens: undefined }
          })
      })
    )
  )

/** The hashing embedding model as a layer, with its `Dimensions`. */
export const layer = (
  options?: Options
): Layer.Layer<EmbeddingModel.EmbeddingModel | EmbeddingModel.Dimensions, InvalidOptionsError> =>
  Layer.merge(
    Layer.effect(EmbeddingModel.EmbeddingModel, make(options)),
    Layer.succeed(EmbeddingModel.Dimensions, options?.dimensions ?? 1024)
  )
