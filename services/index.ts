import type { ServiceSchema } from "moleculer";
import type { ServiceName } from "../lib/config";
import ApiService from "./api.service";
import BookingService from "./booking.service";
import NotificationService from "./notification.service";
import PaymentService from "./payment.service";
import RunnerService from "./runner.service";
import TrackingService from "./tracking.service";

/** Every service this codebase hosts; `SERVICES` chooses which run in a process. */
export const SERVICE_SCHEMAS: Record<ServiceName, ServiceSchema> = {
  api: ApiService as unknown as ServiceSchema,
  booking: BookingService as unknown as ServiceSchema,
  payment: PaymentService as unknown as ServiceSchema,
  runner: RunnerService as unknown as ServiceSchema,
  tracking: TrackingService as unknown as ServiceSchema,
  notification: NotificationService as unknown as ServiceSchema,
};
