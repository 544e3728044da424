/**
 * The admin's "train a new model" form: sends `POST /api/train` with the
 * bearer token and a JSON config, then follows the job's server-sent events
 * (`GET /api/train/<jobId>/events`, read with fetch so the token can be sent)
 * and shows progress live.
 *
 * The token is kept in memory only, never stored.
 *
 * @module
 */

import { readSse } from "./sse.ts";
import { formatDuration, formatPercent } from "./format.ts";

/** What the panel needs from the page. */
export interface TrainPanelOptions {
  /** The config to offer (e.g. the active model's), as JSON. */
  defaultConfig: () => Record<string, unknown>;
  /** Called when a job finished; `modelId` is set when its model became the active one. */
  onFinished: (modelId: string | null) => void;
}

/**
 * One server-sent event of a training job (src/server/train_routes.ts):
 * `progress` while it runs, then `done` or `error`; `type` names the event.
 */
interface JobEvent {
  type: "progress" | "done" | "error";
  jobId: string;
  status: string;
  /** progress: 1-based epoch and batch, and their totals. */
  epoch?: number;
  epochs?: number;
  batch?: number;
  batches?: number;
  /** progress: fraction of all batches done, 0..1. */
  fraction?: number;
  epochLoss?: number;
  etaMs?: number;
  /** progress: held-out accuracy after each evaluated epoch so far. */
  curve?: { epoch: number; loss: number; testAccuracy: number }[];
  /** done */
  modelId?: string;
  testAccuracy?: number;
  activated?: boolean;
  reason?: string;
  /** error */
  error?: string;
}

/** Wires the form in `#train`. */
export function setUpTrainPanel(options: TrainPanelOptions): void {
  const form = document.getElementById("train-form") as HTMLFormElement;
  const token = document.getElementById("token") as HTMLInputElement;
  const config = document.getElementById("train-config") as HTMLTextAreaElement;
  const activate = document.getElementById(
    "train-activate",
  ) as HTMLSelectElement;
  const start = document.getElementById("train-start") as HTMLButtonElement;
  const status = document.getElementById("train-status")!;
  const bar = document.getElementById("train-progress") as HTMLProgressElement;
  const log = document.getElementById("train-log")!;
  const details = document.getElementById("train") as HTMLDetailsElement;

  details.addEventListener("toggle", () => {
    if (details.open && !config.value.trim()) {
      config.value = formatConfig(options.defaultConfig());
    }
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let body: unknown;
    try {
      body = JSON.parse(config.value || "{}");
    } catch (err) {
      say(`The config is not valid JSON: ${(err as Error).message}`, true);
      config.focus();
      return;
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      say('The config must be a JSON object, e.g. {"epochs": 5}.', true);
      config.focus();
      return;
    }
    if (!token.value.trim()) {
      say("Enter the admin token first.", true);
      token.focus();
      return;
    }
    const auth = { authorization: `Bearer ${token.value.trim()}` };
    start.disabled = true;
    log.replaceChildren();
    bar.removeAttribute("value");
    bar.hidden = false;
    say("Starting…");
    try {
      const r = await fetch("/api/train", {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ ...(body as object), activate: activate.value }),
      });
      const answer = await r.json().catch(() => ({}));
      if (r.status !== 202) {
        throw new Error(answer.error ?? `the server answered ${r.status}`);
      }
      say(`Training job ${answer.jobId} started.`);
      const finished = await follow(answer.jobId, auth);
      say(finished.text, finished.failed);
      if (!finished.failed) options.onFinished(finished.modelId);
    } catch (err) {
      say(`Training failed: ${(err as Error).message}`, true);
    } finally {
      start.disabled = false;
    }
  });

  function say(text: string, isError = false): void {
    status.textContent = text;
    status.classList.toggle("error", isError);
  }

  async function follow(
    jobId: string,
    auth: Record<string, string>,
  ): Promise<{ text: string; failed: boolean; modelId: string | null }> {
    const r = await fetch(`/api/train/${encodeURIComponent(jobId)}/events`, {
      headers: { ...auth, accept: "text/event-stream" },
    });
    if (!r.ok || !r.body) {
      throw new Error(`cannot follow the job: the server answered ${r.status}`);
    }
    for await (const message of readSse(r.body)) {
      let ev: JobEvent;
      try {
        ev = JSON.parse(message.data);
      } catch {
        continue;
      }
      if (ev.type === "error") {
        return {
          text: `Training ${
            ev.status === "cancelled" ? "was cancelled" : "failed"
          }: ${ev.error ?? "no reason given"}`,
          failed: true,
          modelId: null,
        };
      }
      if (ev.type === "done") {
        bar.value = 1;
        return {
          text: `Done: model ${ev.modelId}, held-out accuracy ${
            formatPercent(ev.testAccuracy)
          }. ${
            ev.activated
              ? "It is now the active model."
              : "It was not activated"
          }${ev.reason ? ` (${ev.reason})` : ""}${ev.activated ? "" : "."}`,
          failed: false,
          modelId: ev.activated ? ev.modelId ?? null : null,
        };
      }
      showProgress(ev);
    }
    return {
      text: "The event stream ended before the job finished.",
      failed: true,
      modelId: null,
    };
  }

  function showProgress(ev: JobEvent): void {
    if (typeof ev.fraction === "number") bar.value = ev.fraction;
    const parts = [
      ev.epoch ? `epoch ${ev.epoch}/${ev.epochs}` : "",
      ev.batch ? `batch ${ev.batch}/${ev.batches}` : "",
      typeof ev.epochLoss === "number" ? `loss ${ev.epochLoss.toFixed(4)}` : "",
      typeof ev.etaMs === "number" && ev.etaMs > 0
        ? `about ${formatDuration(ev.etaMs)} left`
        : "",
    ].filter(Boolean);
    say(
      parts.length
        ? `Training: ${parts.join(", ")}`
        : `Training job is ${ev.status}…`,
    );
    const curve = ev.curve ?? [];
    if (curve.length !== log.children.length) {
      log.replaceChildren(
        ...curve.map((e) =>
          Object.assign(document.createElement("li"), {
            textContent: `epoch ${e.epoch}: loss ${
              e.loss.toFixed(4)
            }, held-out accuracy ${formatPercent(e.testAccuracy)}`,
          })
        ),
      );
    }
  }
}

/** A config as JSON with one field per line (arrays kept on their line). */
function formatConfig(config: Record<string, unknown>): string {
  const lines = Object.entries(config).map(([k, v]) =>
    `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`
  );
  return lines.length ? `{\n${lines.join(",\n")}\n}` : "{}";
}
