import { request } from "node:http";
import sharp from "sharp";
import { storedPhotos, upload } from "../support/handover";
import { describeWithInfra } from "../support/infra";
import { verifiedRunner } from "../support/runners";
import { startSystem, type System } from "../support/system";
import { heldBooking } from "../support/trips";

const pickup = { lat: -6.2, lng: 106.8 };
const trip = { pickup, dropoff: { lat: -6.25, lng: 106.85 } };

type Refusal = { type?: string; message?: string };

/** A phone's photo: 1600×1200, with the camera's make and where it was taken in its EXIF. */
function phonePhoto(): Promise<Buffer> {
  return sharp({
    create: { width: 1600, height: 1200, channels: 3, background: { r: 180, g: 140, b: 90 } },
  })
    .composite([
      {
        input: {
          create: { width: 400, height: 300, channels: 3, background: { r: 20, g: 60, b: 200 } },
        },
        left: 100,
        top: 100,
      },
    ])
    .jpeg({ quality: 90 })
    .withExif({
      IFD0: { Make: "KilatPhone" },
      IFD3: { GPSLatitudeRef: "S", GPSLatitude: "6/1 12/1 0/1" },
    })
    .toBuffer();
}

/**
 * Handover photos through the public API: the runner uploads the photo's bytes, the gateway
 * checks and cleans them (no EXIF), and only the booking's parties and admins get them back.
 */
describeWithInfra(["mongo"], "handover photos through the API, embedded", (infra) => {
  let system: System;
  let owner: string;
  let booking: string;
  let runner: string;
  let photoId: string;
  const admin = () => system.token("admin", "ops-photos");

  /** A photo as a browser fetches it: status, headers and the bytes. */
  const download = async (path: string, token?: string) => {
    const response = await fetch(system.url + path, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return {
      status: response.status,
      headers: response.headers,
      bytes: Buffer.from(await response.arrayBuffer()),
    };
  };
  const photos = (id = booking, stage = "pickup") => `/api/bookings/${id}/photos?stage=${stage}`;

  beforeAll(async () => {
    system = await startSystem({ infra: { mongo: infra.mongo } });
    owner = system.token("owner", "owner-photos");
    runner = system.token("runner", "runner-photos");
    await verifiedRunner(system, runner);
    const online = await system.api("POST", "/api/runners/me/online", {
      token: runner,
      body: pickup,
    });
    expect(online.status).toBe(200);
    booking = (await heldBooking(system, owner, trip)).booking_id;
    const accepted = await system.api("POST", `/api/bookings/${booking}/accept`, {
      token: runner,
      body: {},
    });
    expect(accepted.status).toBe(200);
  });
  afterAll(async () => {
    await system?.stop();
  });

  it("takes the runner's pickup photo: 201, the photo's id, type and size", async () => {
    const original = await phonePhoto();
    const sent = await upload(system, photos(), runner, original);
    expect(sent).toEqual({
      status: 201,
      body: {
        photo_id: expect.stringMatching(/^[0-9a-f-]{36}$/) as string,
        content_type: "image/jpeg",
        bytes: expect.any(Number) as number,
        width: 1600,
        height: 1200,
        created_at: expect.any(String) as string,
        stage: "pickup",
      },
    });
    photoId = String(sent.body.photo_id);
  });

  it("gives the photo to the owner, the runner and an admin: a JPEG without EXIF, cached privately", async () => {
    for (const token of [owner, runner, admin()]) {
      const got = await download(`/api/bookings/${booking}/photos/${photoId}`, token);
      expect([got.status, got.headers.get("content-type")]).toEqual([200, "image/jpeg"]);
      expect(
        Object.fromEntries(
          ["content-length", "cache-control", "x-content-type-options", "content-disposition"].map(
            (name) => [name, got.headers.get(name)],
          ),
        ),
      ).toEqual({
        "content-length": String(got.bytes.length),
        "cache-control": "private, max-age=3600",
        "x-content-type-options": "nosniff",
        "content-disposition": "inline",
      });
      const decoded = await sharp(got.bytes).metadata();
      expect([decoded.format, decoded.width, decoded.height, decoded.exif]).toEqual([
        "jpeg",
        1600,
        1200,
        undefined,
      ]);
      expect(got.bytes.includes(Buffer.from("KilatPhone"))).toBe(false);
    }
  });

  it("hides the photo from another owner, another runner, and under another booking: 404", async () => {
    const path = `/api/bookings/${booking}/photos/${photoId}`;
    const strangers = [
      system.token("owner", "owner-other"),
      system.token("runner", "runner-other"),
    ];
    for (const token of strangers) {
      const got = await system.api<Refusal>("GET", path, { token });
      expect([got.status, got.body.type]).toEqual([404, "NOT_FOUND"]);
    }
    const other = (await heldBooking(system, owner, trip)).booking_id;
    const elsewhere = await system.api<Refusal>("GET", `/api/bookings/${other}/photos/${photoId}`, {
      token: owner,
    });
    expect([elsewhere.status, elsewhere.body.type]).toEqual([404, "NOT_FOUND"]);
    const unknown = await system.api<Refusal>(
      "GET",
      `/api/bookings/${booking}/photos/no-such-photo`,
      { token: owner },
    );
    expect(unknown.status).toBe(404);
  });

  it("refuses a 6 MB body (413), a text file (415) and bytes that do not decode (422), storing nothing", async () => {
    const before = await storedPhotos(system);
    const big = Buffer.alloc(6 * 1024 * 1024, 1);
    big.set([0xff, 0xd8, 0xff], 0);
    const tooBig = await upload(system, photos(), runner, big);
    expect([tooBig.status, tooBig.body.type, tooBig.body.message]).toEqual([
      413,
      "PAYLOAD_TOO_LARGE",
      "A photo may be at most 5 MB",
    ]);
    // The same without a declared length (chunked): counted as it arrives.
    const streamed = await new Promise<{ status: number; body: Refusal }>((resolve, reject) => {
      const req = request(`${system.url}${photos()}`, {
        method: "POST",
        headers: { authorization: `Bearer ${runner}`, "content-type": "image/jpeg" },
      });
      req.on("response", (res) => {
        const parts: Buffer[] = [];
        res.on("data", (part: Buffer) => parts.push(part));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(parts).toString("utf8")) as Refusal,
          }),
        );
      });
      req.on("error", reject);
      for (let at = 0; at < big.length; at += 256 * 1024)
        req.write(big.subarray(at, at + 256 * 1024));
      req.end();
    });
    expect([streamed.status, streamed.body.type]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    const text = await upload(
      system,
      photos(),
      runner,
      Buffer.from("a note, not a photo\n"),
      "text/plain",
    );
    expect([text.status, text.body.type, text.body.message]).toEqual([
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      "The body is not a JPEG, PNG or WebP image: send the photo's bytes as they are",
    ]);
    const broken = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(4096, 9)]);
    const undecodable = await upload(system, photos(), runner, broken);
    expect([undecodable.status, undecodable.body.type]).toEqual([422, "INVALID_IMAGE"]);

    expect(await storedPhotos(system)).toEqual(before);
    // The count sees a photo that is taken: one more file, and its chunks.
    expect((await upload(system, photos(), runner, await phonePhoto())).status).toBe(201);
    const after = await storedPhotos(system);
    expect([after.photos - before.photos, after.chunks > before.chunks]).toEqual([1, true]);
  });

  it("refuses a drop-off photo while the pet is not aboard yet: 409 naming the status", async () => {
    const early = await upload(system, photos(booking, "dropoff"), runner, await phonePhoto());
    expect([early.status, early.body.type, early.body.message]).toEqual([
      409,
      "CONFLICT",
      "A dropoff photo is taken while the booking is picked_up or in_transit; it is accepted",
    ]);
    const noStage = await upload(
      system,
      `/api/bookings/${booking}/photos`,
      runner,
      await phonePhoto(),
    );
    expect([noStage.status, noStage.body.type]).toEqual([422, "VALIDATION_ERROR"]);
  });

  it("takes photos from the booking's runner only: 401 without a token, 403 for an owner, 404 for another runner", async () => {
    const photo = await phonePhoto();
    const anonymous = await fetch(system.url + photos(), {
      method: "POST",
      body: new Uint8Array(photo),
    });
    expect(anonymous.status).toBe(401);
    const byOwner = await upload(system, photos(), owner, photo);
    expect([byOwner.status, byOwner.body.type]).toEqual([403, "FORBIDDEN"]);
    const byStranger = await upload(
      system,
      photos(),
      system.token("runner", "runner-other"),
      photo,
    );
    expect([byStranger.status, byStranger.body.type]).toEqual([404, "NOT_FOUND"]);
  });
});
