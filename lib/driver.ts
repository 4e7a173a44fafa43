import type { Collection, Document } from "mongodb";
import type { Model } from "mongoose";

/**
 * The driver's collection behind a model, typed by the model's document. For the hot paths that
 * write whole documents and read them back without mongoose's casting. Mongoose types its
 * collection with the driver's untyped `Document`; the model's type is the same collection's.
 */
export const driverOf = <Doc extends Document>(model: Model<Doc>): Collection<Doc> =>
  model.collection as unknown as Collection<Doc>;
