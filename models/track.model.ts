import { Schema, type Connection, type Model } from "mongoose";
import { TRACK_STATUSES, type Track } from "../domain/track";
import { OutboxEntrySchema, type WithOutbox } from "../lib/outbox-schema";

/** A track as stored (domain/track.ts), its events in its outbox; its fixes are waypoints. */
export type TrackDoc = Track & WithOutbox;

/** One accepted fix, with the track's distance so far and ETA after it. */
export interface WaypointDoc {
  /** `waypointId(track, recorded_at)`: a replayed fix cannot be stored twice. */
  _id: string;
  track_id: string;
  lat: number;
  lng: number;
  speed_kmh: number | null;
  heading_degrees: number | null;
  recorded_at: Date;
  total_distance_km: number;
  eta_seconds: number | null;
}

/**
 * `<recorded_at ms, 13 digits>:<track id>`. Time first: the fixes of all tracks arrive in about
 * time order, so each bulk insert adds to the right edge of the `_id` index, which stays in
 * cache, instead of to one page per track across an index that grows with every trip.
 */
export function waypointId(trackId: string, recordedAt: Date): string {
  return `${String(recordedAt.getTime()).padStart(13, "0")}:${trackId}`;
}

const Point = new Schema({ lat: Number, lng: Number }, { _id: false });

const TrackSchema = new Schema<TrackDoc>(
  {
    _id: { type: String, required: true },
    booking_id: { type: String, required: true, unique: true },
    owner_id: { type: String, required: true },
    runner_id: { type: String, default: null },
    status: { type: String, required: true, enum: TRACK_STATUSES },
    dropoff: { type: Point, default: null },
    pet_name: { type: String },
    booking_number: { type: String },
    /** The welfare watch (domain/welfare.ts), written whole by the track's decider. */
    welfare: { type: Schema.Types.Mixed },
    state: { type: Schema.Types.Mixed, default: null },
    eta_seconds: { type: Number, default: null },
    total_distance_km: { type: Number, default: null },
    started_at: { type: Date, default: null },
    completed_at: { type: Date, default: null },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    outbox: { type: [OutboxEntrySchema], default: [] },
  },
  { collection: "tracks", versionKey: false, minimize: false },
);
TrackSchema.index({ runner_id: 1, status: 1 });
// The welfare sweep's trips (pet aboard) and the operations page's recently cleared alerts.
TrackSchema.index({ "welfare.aboard": 1 }, { sparse: true });
TrackSchema.index({ "welfare.cleared_at": 1 }, { sparse: true });

const WaypointSchema = new Schema<WaypointDoc>(
  {
    _id: { type: String, required: true },
    track_id: { type: String, required: true },
    lat: { type: Number, required: true },
    lng: { type: Number, required: true },
    speed_kmh: { type: Number, default: null },
    heading_degrees: { type: Number, default: null },
    recorded_at: { type: Date, required: true },
    total_distance_km: { type: Number, required: true },
    eta_seconds: { type: Number, default: null },
  },
  { collection: "waypoints", versionKey: false },
);
WaypointSchema.index({ track_id: 1, recorded_at: 1 });

export function trackModel(connection: Connection): Model<TrackDoc> {
  return (
    (connection.models.Track as Model<TrackDoc> | undefined) ??
    connection.model<TrackDoc>("Track", TrackSchema)
  );
}

export function waypointModel(connection: Connection): Model<WaypointDoc> {
  return (
    (connection.models.Waypoint as Model<WaypointDoc> | undefined) ??
    connection.model<WaypointDoc>("Waypoint", WaypointSchema)
  );
}
