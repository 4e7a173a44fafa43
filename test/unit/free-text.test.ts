import { CreatePaymentParams, ProfileParams } from "../../contracts";
import { ReasonParams, CreateBookingParams } from "../../contracts/booking";
import { Latitude, Point, text } from "../../contracts/common";
import { MAX_LATITUDE } from "../../domain/geo";
import { MAX_LATITUDE as INDEX_MAX_LATITUDE } from "../../adapters/geo-index/port";
import { fieldProblems } from "../../lib/zod-validator";

const name = text(80);
const note = text(500, { lines: true, emptyAllowed: true });

/** What a schema makes of a value: the value it keeps, or the messages it refuses it with. */
function judge(schema: typeof name, value: string) {
  const result = schema.safeParse(value);
  return result.success
    ? { kept: result.data }
    : { refused: result.error.issues.map((issue) => issue.message) };
}

describe("free text", () => {
  it.each([
    ["a plain name", "Rex", { kept: "Rex" }],
    ["an accented name, decomposed", "Rene\u0301", { kept: "Ren\u00e9" }],
    ["an emoji family (joiners between)", "\u{1F469}\u200D\u{1F467}", { kept: "👩‍👧" }],
    ["Javanese script", "ꦩꦺꦴꦁ", { kept: "ꦩꦺꦴꦁ" }],
    ["spaces around", "  Rex  ", { kept: "Rex" }],
    ["HTML (shown as text)", "<b>Rex</b>", { kept: "<b>Rex</b>" }],
    ["NUL", "Re\u0000x", { refused: ["must not contain control characters (found U+0000)"] }],
    [
      "combining marks alone",
      "\u0301\u0301\u0301",
      { refused: ["must contain visible characters"] },
    ],
    ["a letter with marks", "Ze\u0301\u0301", { kept: "Z\u00e9\u0301" }],
    ["a line separator", "Re\u2028x", { refused: ["must be one line (found U+2028)"] }],
    ["a paragraph separator", "Re\u2029x", { refused: ["must be one line (found U+2029)"] }],
    [
      "interlinear annotation marks",
      "Rex\uFFF9hidden\uFFFB",
      { refused: ["must not contain annotation marks or replacement characters (found U+FFF9)"] },
    ],
    [
      "a replacement character (bytes that were not UTF-8)",
      "R\uFFFDex",
      { refused: ["must not contain annotation marks or replacement characters (found U+FFFD)"] },
    ],
    ["a line feed", "Re\nx", { refused: ["must not contain control characters (found U+000A)"] }],
    ["a tab", "Re\tx", { refused: ["must not contain control characters (found U+0009)"] }],
    [
      "escape (C0)",
      "\u001b[31mRex",
      { refused: ["must not contain control characters (found U+001B)"] },
    ],
    ["DEL", "Rex\u007f", { refused: ["must not contain control characters (found U+007F)"] }],
    [
      "a C1 control",
      "Rex\u0085",
      { refused: ["must not contain control characters (found U+0085)"] },
    ],
    [
      "a right-to-left override",
      "\u202Eevil",
      { refused: ["must not contain bidirectional controls (found U+202E)"] },
    ],
    [
      "a left-to-right embedding",
      "a\u202Ab",
      { refused: ["must not contain bidirectional controls (found U+202A)"] },
    ],
    [
      "a right-to-left isolate",
      "a\u2067b",
      { refused: ["must not contain bidirectional controls (found U+2067)"] },
    ],
    [
      "a pop directional isolate",
      "a\u2069b",
      { refused: ["must not contain bidirectional controls (found U+2069)"] },
    ],
    [
      "a left-to-right mark",
      "a\u200Eb",
      { refused: ["must not contain bidirectional controls (found U+200E)"] },
    ],
    [
      "a right-to-left mark",
      "a\u200Fb",
      { refused: ["must not contain bidirectional controls (found U+200F)"] },
    ],
    [
      "an Arabic letter mark",
      "a\u061Cb",
      { refused: ["must not contain bidirectional controls (found U+061C)"] },
    ],
    [
      "half a surrogate pair",
      "Rex\uD83D",
      { refused: ["must be valid Unicode text, not half a surrogate pair (found U+D83D)"] },
    ],
    ["nothing", "", { refused: ["must contain visible characters"] }],
    ["only spaces", "   ", { refused: ["must contain visible characters"] }],
    ["only zero-width spaces", "\u200B\u200B", { refused: ["must contain visible characters"] }],
    [
      "a zero-width joiner and a BOM",
      "\u200D\uFEFF",
      { refused: ["must contain visible characters"] },
    ],
    ["Hangul fillers", "\u3164\u115F", { refused: ["must contain visible characters"] }],
    ["a blank braille sign", "\u2800", { refused: ["must contain visible characters"] }],
    ["an ideographic space", "\u3000", { refused: ["must contain visible characters"] }],
    [
      "81 characters",
      "R".repeat(81),
      { refused: ["Too big: expected string to have <=80 characters"] },
    ],
  ])("given a name of %s, then %j", (_label, value, expected) => {
    expect(judge(name, value)).toEqual(expected);
  });

  it.each([
    ["lines and a tab", "Ring twice\n\tthen wait", { kept: "Ring twice\n\tthen wait" }],
    ["Windows line ends", "Ring twice\r\nthen wait", { kept: "Ring twice\nthen wait" }],
    ["a carriage return alone", "a\rb", { kept: "a\nb" }],
    ["nothing (an untouched text box)", "", { kept: "" }],
    ["only spaces", "  ", { kept: "" }],
    ["NUL", "a\u0000b", { refused: ["must not contain control characters (found U+0000)"] }],
    [
      "a vertical tab",
      "a\u000Bb",
      { refused: ["must not contain control characters (found U+000B)"] },
    ],
    ["only zero-width spaces", "\u200B", { refused: ["must contain visible characters"] }],
    [
      "a right-to-left override",
      "\u202Eevil",
      { refused: ["must not contain bidirectional controls (found U+202E)"] },
    ],
  ])("given a note of %s, then %j", (_label, value, expected) => {
    expect(judge(note, value)).toEqual(expected);
  });

  it("given each free-text field of the requests, then each refuses a bidi override by name", () => {
    const booking = {
      pet_type: "cat",
      pet_name: "\u202Eevil",
      notes: "a\u0000b",
      pickup: { lat: -6.2, lng: 106.8 },
      dropoff: { lat: -6.25, lng: 106.85 },
    };
    const problems = (result: ReturnType<typeof CreateBookingParams.safeParse>) =>
      result.success ? [] : fieldProblems(result.error).map((problem) => problem.field);
    expect(problems(CreateBookingParams.safeParse(booking))).toEqual(["pet_name", "notes"]);
    expect(
      fieldProblems(
        ProfileParams.safeParse({ name: "\u200B", vehicle: "Honda\u202E" }).error ??
          fail("accepted"),
      ).map((problem) => problem.field),
    ).toEqual(["name", "vehicle"]);
    expect(
      fieldProblems(
        ReasonParams.safeParse({ id: "b1", reason: "\u2066x" }).error ?? fail("accepted"),
      ),
    ).toEqual([
      {
        field: "reason",
        message: "must not contain bidirectional controls (found U+2066)",
        type: "custom",
      },
    ]);
  });
});

describe("positions and the payment body", () => {
  it("given the geo index's limit, then a request's latitude stops exactly there", () => {
    expect(MAX_LATITUDE).toEqual(INDEX_MAX_LATITUDE);
    expect(Latitude.safeParse(MAX_LATITUDE).success).toBe(true);
    expect(Latitude.safeParse(-MAX_LATITUDE).success).toBe(true);
    expect(fieldProblems(Point.safeParse({ lat: 89.9, lng: 0 }).error ?? fail("accepted"))).toEqual(
      [
        {
          field: "lat",
          message: "must be at most 85.05112878 (the map ends there)",
          type: "too_big",
        },
      ],
    );
  });

  it("given an unknown field in the payment body, then it is named", () => {
    const result = CreatePaymentParams.safeParse({ id: "b1", amount_cents: 1 });
    expect(fieldProblems(result.error ?? fail("accepted"))).toEqual([
      { field: "(body)", message: 'Unrecognized key: "amount_cents"', type: "unrecognized_keys" },
    ]);
  });

  it("given an unknown field in a cancellation, then it is named", () => {
    const result = ReasonParams.safeParse({ id: "b1", reason: "moved", refund: "double" });
    expect(fieldProblems(result.error ?? fail("accepted"))).toEqual([
      { field: "(body)", message: 'Unrecognized key: "refund"', type: "unrecognized_keys" },
    ]);
  });

  it("given a payment method with spaces or symbols, then it is refused; none is pm_card_visa", () => {
    expect(CreatePaymentParams.safeParse({ id: "b1", payment_method: "pm card;" }).success).toBe(
      false,
    );
    expect(CreatePaymentParams.parse({ id: "b1" })).toEqual({
      id: "b1",
      payment_method: "pm_card_visa",
    });
  });
});

function fail(why: string): never {
  throw new Error(why);
}
