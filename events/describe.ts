import { z } from "zod";
import { stringify } from "yaml";
import {
  ALL_TOPICS,
  CONSUMER_GROUPS,
  EVENTS,
  PARTITIONS,
  consumersOf,
  dlqOf,
  type EventDefinition,
} from "./catalog";

type JsonSchema = Record<string, unknown>;

function jsonSchema(definition: EventDefinition): JsonSchema {
  const schema = z.toJSONSchema(definition.schema) as JsonSchema;
  delete schema.$schema;
  return schema;
}

/** The catalog as data: what `npm run catalog -- --json` prints. */
export function catalogJson() {
  return {
    topics: ALL_TOPICS.map((name) => ({ name, partitions: PARTITIONS, dlq: dlqOf(name) })),
    events: EVENTS.map((definition) => ({
      type: definition.type,
      topic: definition.topic,
      producer: definition.producer,
      consumers: consumersOf(definition.type),
      partition_key: definition.partitionKey,
      trigger: definition.trigger,
      ...(definition.changes ? { changes: definition.changes } : {}),
      schema: jsonSchema(definition),
    })),
    consumer_groups: CONSUMER_GROUPS.map((group) => ({
      group_id: group.groupId,
      service: group.service,
      topic: group.topic,
      events: group.events,
      ...(group.addition ? { addition: group.addition } : {}),
    })),
  };
}

const camel = (name: string) => name.replace(/[._-](\w)/g, (_, c: string) => c.toUpperCase());

/** docs/asyncapi.yaml: AsyncAPI 3.0, generated from the catalog. */
export function renderAsyncApi(): string {
  const messages: Record<string, unknown> = {};
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};

  for (const definition of EVENTS) {
    messages[camel(definition.type)] = {
      name: definition.type,
      title: definition.type,
      summary: definition.trigger,
      ...(definition.changes ? { description: definition.changes } : {}),
      contentType: "application/cloudevents+json",
      bindings: {
        kafka: {
          key: {
            type: "string",
            description: `${definition.partitionKey} (CloudEvent partitionkey)`,
          },
        },
      },
      payload: {
        type: "object",
        description: "CloudEvents 1.0, structured mode",
        required: [
          "specversion",
          "id",
          "source",
          "type",
          "subject",
          "time",
          "datacontenttype",
          "partitionkey",
          "data",
        ],
        properties: {
          specversion: { const: "1.0" },
          id: {
            type: "string",
            format: "uuid",
            description: "stable across publish retries; consumers dedupe on it",
          },
          source: { const: `/kilat/${definition.producer.replace("service-", "")}` },
          type: { const: definition.type },
          subject: { type: "string", description: "the aggregate id" },
          time: { type: "string", format: "date-time" },
          datacontenttype: { const: "application/json" },
          partitionkey: { type: "string" },
          data: jsonSchema(definition),
        },
      },
    };
  }

  for (const topic of ALL_TOPICS) {
    const refs = Object.fromEntries(
      EVENTS.filter((definition) => definition.topic === topic).map((definition) => [
        camel(definition.type),
        { $ref: `#/components/messages/${camel(definition.type)}` },
      ]),
    );
    channels[camel(topic)] = {
      address: topic,
      description: `${PARTITIONS} partitions`,
      messages: refs,
    };
    channels[camel(dlqOf(topic))] = {
      address: dlqOf(topic),
      description:
        "Dead letters of the topic: the original record, plus headers x-kilat-origin-topic, " +
        "-partition, -offset, x-kilat-consumer-group, x-kilat-error, x-kilat-attempts, x-kilat-failed-at.",
      messages: refs,
    };
  }

  for (const definition of EVENTS) {
    const channel = camel(definition.topic);
    operations[`${camel(definition.producer)}Sends${camel("_" + definition.type)}`] = {
      action: "send",
      channel: { $ref: `#/channels/${channel}` },
      summary: `${definition.producer}: ${definition.trigger}`,
      messages: [{ $ref: `#/channels/${channel}/messages/${camel(definition.type)}` }],
    };
  }
  for (const group of CONSUMER_GROUPS) {
    const channel = camel(group.topic);
    operations[camel(group.groupId)] = {
      action: "receive",
      channel: { $ref: `#/channels/${channel}` },
      summary: `${group.service} (group ${group.groupId})${group.addition ? `; added: ${group.addition.why}` : ""}`,
      bindings: { kafka: { groupId: { type: "string", enum: [group.groupId] } } },
      messages: group.events.map((type) => ({
        $ref: `#/channels/${channel}/messages/${camel(type)}`,
      })),
    };
  }

  const document = {
    asyncapi: "3.0.0",
    info: {
      title: "Kilat domain events",
      version: "1.0.0",
      description: "Generated from events/catalog.ts by `npm run docs`; do not edit by hand.",
    },
    defaultContentType: "application/cloudevents+json",
    servers: {
      local: { host: "127.0.0.1:9092", protocol: "kafka", description: "npm run infra:up" },
    },
    channels,
    operations,
    components: { messages },
  };
  return `# Generated by \`npm run docs\` from events/catalog.ts. Do not edit.\n${stringify(document, { lineWidth: 100 })}`;
}

function fieldList(definition: EventDefinition): string {
  const schema = jsonSchema(definition) as {
    properties: Record<string, unknown>;
    required?: string[];
  };
  return Object.keys(schema.properties)
    .map((field) => (schema.required?.includes(field) ? `\`${field}\`` : `\`${field}?\``))
    .join(", ");
}

/** docs/events.md: the catalog as tables, generated from the catalog. */
export function renderMarkdown(): string {
  const lines = [
    "<!-- Generated by `npm run docs` from events/catalog.ts. Do not edit. -->",
    "# Kilat event catalog",
    "",
    `${EVENTS.length} event types on ${ALL_TOPICS.length} topics (${PARTITIONS} partitions each, plus one \`.dlq\` each).`,
    "Envelope: CloudEvents 1.0 structured JSON; Kafka key = `partitionkey`. `field?` = optional.",
    "",
    "## Topics",
    "",
    "| topic | partitions | dead letters |",
    "|---|---|---|",
    ...ALL_TOPICS.map((topic) => `| \`${topic}\` | ${PARTITIONS} | \`${dlqOf(topic)}\` |`),
    "",
    "## Events",
    "",
    "| type | topic | producer | consumers | key | payload | changes from the seed |",
    "|---|---|---|---|---|---|---|",
    ...EVENTS.map(
      (definition) =>
        `| \`${definition.type}\` | \`${definition.topic}\` | ${definition.producer} | ${
          consumersOf(definition.type).join(", ") || "—"
        } | \`${definition.partitionKey}\` | ${fieldList(definition)} | ${definition.changes ?? ""} |`,
    ),
    "",
    "## Consumer groups",
    "",
    "| group | service | topic | events | addition |",
    "|---|---|---|---|---|",
    ...CONSUMER_GROUPS.map(
      (group) =>
        `| \`${group.groupId}\` | ${group.service} | \`${group.topic}\` | ${group.events
          .map((type) => `\`${type}\``)
          .join(
            ", ",
          )} | ${group.addition ? `${group.addition.events.join(", ")}: ${group.addition.why}` : ""} |`,
    ),
    "",
  ];
  return lines.join("\n");
}
