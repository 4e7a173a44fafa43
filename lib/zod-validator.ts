import { Errors, Validators, type ServiceBroker, type Context } from "moleculer";
import { z } from "zod";

/** One entry of a ValidationError's `data`: which field, and what is wrong with it. */
export interface FieldProblem {
  field: string;
  message: string;
  type: string;
}

export function fieldProblems(error: z.ZodError): FieldProblem[] {
  return error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.join(".") : "(body)",
    message: issue.message,
    type: issue.code,
  }));
}

/**
 * How an action carries its zod schema: behind a function, because Moleculer deep-clones
 * action definitions when it merges mixins, and a cloned zod schema is no longer a schema.
 * A function survives the clone by reference (and is left out of the node's INFO packet).
 */
export type ZodParams = {
  zod: () => z.ZodType;
};

export const zodParams = (schema: z.ZodType): ZodParams => ({ zod: () => schema });

/** The zod schema of an action's params: behind `zodParams`, or as a contract states it. */
export function schemaOf(params: unknown): z.ZodType | undefined {
  if (params instanceof z.ZodType) return params;
  const zod = (params as Partial<ZodParams> | undefined)?.zod;
  return typeof zod === "function" ? zod() : undefined;
}

/**
 * Lets actions declare `params` as zod schemas (see `actionsOf`): the one validation dialect of the codebase.
 * The handler receives the parsed value (defaults applied, unknown keys stripped), and a
 * failure is a 422 ValidationError whose data names each offending field.
 */
export class ZodValidator extends Validators.Base {
  constructor() {
    super({ paramName: "params" });
  }

  compile(params: Record<string, unknown>): Validators.Base.CheckerFunction {
    const schema = requireSchema(params);
    return (value) => schema.safeParse(value).success;
  }

  validate(value: Record<string, unknown>, params: Record<string, unknown>): boolean {
    const result = requireSchema(params).safeParse(value);
    if (!result.success) throw validationError(result.error);
    return true;
  }

  convertSchemaToMoleculer(params: unknown): Record<string, unknown> {
    const schema = schemaOf(params);
    return schema ? z.toJSONSchema(schema, { unrepresentable: "any" }) : {};
  }

  middleware(_broker: ServiceBroker) {
    return {
      name: "ZodValidator",
      localAction(handler: (ctx: Context) => unknown, action: { params?: unknown }) {
        const schema = schemaOf(action.params);
        if (!schema) return handler;
        return function validateWithZod(ctx: Context) {
          const result = schema.safeParse(ctx.params ?? {});
          if (!result.success) return Promise.reject(validationError(result.error));
          ctx.params = result.data;
          return handler(ctx);
        };
      },
    };
  }
}

function requireSchema(params: unknown): z.ZodType {
  const schema = schemaOf(params);
  if (!schema) throw new Error("ZodValidator: action params must be declared with zodParams()");
  return schema;
}

export function validationError(error: z.ZodError): Errors.ValidationError {
  const problems = fieldProblems(error);
  const summary = problems.map((problem) => `${problem.field}: ${problem.message}`).join("; ");
  return new Errors.ValidationError(`Invalid request: ${summary}`, "VALIDATION_ERROR", problems);
}

/** One field's problem, answered like zod's own (422 naming the field). */
export function fieldError(field: string, message: string): Errors.ValidationError {
  return validationError(new z.ZodError([{ code: "custom", path: field.split("."), message }]));
}
