import { z } from "zod";
import { latitude, longitude } from "../events/schemas";

/** A point on the map, as every request and answer carries one. */
export const Point = z.object({ lat: latitude, lng: longitude }).strict();

/** `limit` and `cursor` query parameters, shared by every list endpoint. */
export const PageParams = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
};

export const NoParams = z.object({}).strict();

/** An aggregate named in the path: `/api/bookings/:id/…`. */
export const IdParams = z.object({ id: z.string().min(1).max(64) });
