import type { Collection, Model } from "mongoose";

/**
 * What code that writes through MongoDB's driver, under a mongoose model, needs: the model's
 * collection typed by its documents, and what a refused write means. Here, below lib/, for the
 * adapters that store in MongoDB; lib/mongo.ts offers both to the rest.
 */

/**
 * The model's collection typed by its documents (mongoose types `Model.collection` for any
 * document). The same collection object: the connection keeps one per name.
 */
export const collectionOf = <T extends { _id: string }>(model: Model<T>): Collection<T> =>
  model.db.collection<T>(model.collection.collectionName);

/** The server's code for a write refused by a unique index. */
const DUPLICATE_KEY = 11000;

/**
 * Whether a write was refused only because a document with its unique key exists: the error's
 * code, or, for a bulk write, every one of its failures' (the bulk error's own code is its first
 * failure's, which says nothing of the others).
 */
export function isDuplicateKey(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const failures = "writeErrors" in error ? error.writeErrors : undefined;
  if (Array.isArray(failures) && failures.length > 0) return failures.every(isDuplicateKey);
  return "code" in error && error.code === DUPLICATE_KEY;
}
