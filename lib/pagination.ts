import { Errors } from "moleculer";
import { z } from "zod";

/** `limit` and `cursor` query parameters, shared by every list endpoint. */
export const PageParams = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
};

interface CursorPosition {
  created_at: Date;
  id: string;
}

const Position = z.object({ t: z.iso.datetime(), id: z.string().min(1) });

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(
    JSON.stringify({ t: position.created_at.toISOString(), id: position.id }),
  ).toString("base64url");
}

/** A filter for the page after `cursor` in (created_at desc, _id desc) order. */
export function afterCursor(cursor: string | undefined): Record<string, unknown> {
  const at = cursorPosition(cursor);
  if (!at) return {};
  return {
    $or: [
      { created_at: { $lt: at.created_at } },
      { created_at: at.created_at, _id: { $lt: at.id } },
    ],
  };
}

/** The last entry of the page before, as `cursor` names it (400 for anything else). */
export function cursorPosition(cursor: string | undefined): CursorPosition | undefined {
  if (!cursor) return undefined;
  let parsed;
  try {
    parsed = Position.parse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
  } catch {
    throw new Errors.ValidationError(
      "Invalid request: cursor: not a cursor from this API",
      "VALIDATION_ERROR",
      [{ field: "cursor", message: "not a cursor from this API", type: "invalid_cursor" }],
    );
  }
  return { created_at: new Date(parsed.t), id: parsed.id };
}

export const PAGE_SORT = { created_at: -1, _id: -1 } as const;

/** Cuts one extra row off a `limit + 1` query and turns it into the next cursor. */
export function toPage<T extends { _id: string; created_at: Date }>(rows: T[], limit: number) {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items,
    next_cursor:
      rows.length > limit && last
        ? encodeCursor({ created_at: last.created_at, id: last._id })
        : null,
  };
}
