import { z } from "zod";
import { PET_TYPES } from "../config/defaults";

/** Building blocks shared by the event payloads (and, later, by the REST schemas). */
export const id = z.string().min(1).max(128);
export const isoTime = z.iso.datetime({ offset: true });
export const latitude = z.number().min(-90).max(90);
export const longitude = z.number().min(-180).max(180);
export const cents = z.number().int().nonnegative();
export const currency = z.string().regex(/^[A-Z]{3}$/, "expected an ISO 4217 code such as IDR");
export const petType = z.enum(PET_TYPES);
