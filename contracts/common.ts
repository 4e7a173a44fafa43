import { z } from "zod";
import { MAX_LATITUDE } from "../domain/geo";
import { longitude } from "../events/schemas";

/**
 * A latitude a request may bring: what the geo index can hold, not the whole ±90°. A pickup
 * nearer a pole could never be dispatched (domain/geo.ts).
 */
export const Latitude = z
  .number()
  .min(-MAX_LATITUDE, `must be at least -${MAX_LATITUDE} (the map ends there)`)
  .max(MAX_LATITUDE, `must be at most ${MAX_LATITUDE} (the map ends there)`);
export const Longitude = longitude;

/** A point on the map, as every request and answer carries one. */
export const Point = z.object({ lat: Latitude, lng: Longitude }).strict();

/** C0 controls, DEL and C1: they mean nothing on a page, and NUL cuts strings short downstream. */
const CONTROL = /\p{Cc}/u;
/** The same, but tab and line feed: a note may have lines. */
const CONTROL_IN_LINES = /(?![\t\n])\p{Cc}/u;
/** Bidirectional controls: shown, they reorder the text after them ("\u202Eevil" reads "live"). */
const BIDI_CONTROL = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
/** Half a UTF-16 pair: not a character, and no valid UTF-8 once stored or sent on. */
const LONE_SURROGATE = /\p{Cs}/u;
/** Line and paragraph separators: a line break a one-line field would show. */
const LINE_BREAK = /[\u2028\u2029]/u;
/** Interlinear annotation marks (they hide the text between them) and U+FFFD (bytes that were not UTF-8). */
const HIDDEN_OR_BROKEN = /[\uFFF9-\uFFFB\uFFFD]/u;
/**
 * What draws nothing: white space, format characters (zero-width space, joiners), the code
 * points Unicode says to ignore when shown (fillers, variation selectors), the blank braille sign.
 */
const INVISIBLE = /[\p{White_Space}\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]/gu;
/** Combining marks: with nothing to sit on, they draw nothing readable. */
const MARKS = /\p{M}/gu;

const codePoint = (char: string) =>
  `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * Free text a person typed and others read (a pet's name, a note, a reason): trimmed, in NFC,
 * at most `max` long; refused with a control character (`lines`: but tab and line feed), a
 * bidirectional control or a lone surrogate, or when nothing visible is left. With
 * `emptyAllowed`, "" is accepted (an app's untouched text box).
 */
export function text(max: number, options: { lines?: boolean; emptyAllowed?: boolean } = {}) {
  const control = options.lines ? CONTROL_IN_LINES : CONTROL;
  return z
    .string()
    .overwrite((value) => (options.lines ? value.replace(/\r\n?/g, "\n") : value))
    .trim()
    .normalize("NFC")
    .max(max)
    .superRefine((value, ctx) => {
      const refusals: [RegExp, string][] = [
        [control, "must not contain control characters"],
        [BIDI_CONTROL, "must not contain bidirectional controls"],
        [LONE_SURROGATE, "must be valid Unicode text, not half a surrogate pair"],
        [HIDDEN_OR_BROKEN, "must not contain annotation marks or replacement characters"],
        ...(options.lines ? [] : [[LINE_BREAK, "must be one line"] as [RegExp, string]]),
      ];
      for (const [pattern, message] of refusals) {
        const found = pattern.exec(value);
        if (found) {
          ctx.addIssue({ code: "custom", message: `${message} (found ${codePoint(found[0])})` });
          return;
        }
      }
      const visible = value.replace(INVISIBLE, "").replace(MARKS, "");
      if (visible === "" && !(options.emptyAllowed && value === ""))
        ctx.addIssue({ code: "custom", message: "must contain visible characters" });
    });
}

/** `limit` and `cursor` query parameters, shared by every list endpoint. */
export const PageParams = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
};

export const NoParams = z.object({}).strict();

/** An aggregate named in the path: `/api/bookings/:id/…`. */
export const IdParams = z.object({ id: z.string().min(1).max(64) });
