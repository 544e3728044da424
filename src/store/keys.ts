/**
 * Every Deno KV key Ziffer uses, built here and nowhere else.
 *
 *   ["model_meta", id]            StoredModelMeta  — written last: a model is complete once this exists
 *   ["model_saving", id]          {expiresAt}      — reserves an id while its chunks are written
 *   ["model_chunk", id, i]        Uint8Array       — bytes i·CHUNK … of the model file (< 64 KiB each)
 *   ["active_model"]              ActivePointer    — which model predictions use
 *   ["training_lease"]            Lease            — who may train now (expires if its holder dies)
 *   ["training_job", jobId]       JobRecord        — progress and result of a training run
 *   ["checkpoint", jobId, "meta"]           CheckpointMeta — which generation of chunks is current
 *   ["checkpoint", jobId, "chunk", g, i]    Uint8Array     — chunk i of checkpoint generation g
 *
 * @module
 */

/** A key tuple as Deno KV takes it. */
export type Key = Deno.KvKey;

/** Keys of models, pointers, leases and jobs. */
export const keys = {
  /** Prefix of all model metadata records (for listing). */
  modelMetaPrefix: (): Key => ["model_meta"],
  /** The metadata record of one model. */
  modelMeta: (id: string): Key => ["model_meta", id],
  /** The reservation of an id while a save writes its chunks. */
  modelSaving: (id: string): Key => ["model_saving", id],
  /** Prefix of one model's byte chunks. */
  modelChunkPrefix: (id: string): Key => ["model_chunk", id],
  /** Chunk `index` of one model's file. */
  modelChunk: (id: string, index: number): Key => ["model_chunk", id, index],
  /** Prefix of every model's chunks (to find orphans). */
  allModelChunks: (): Key => ["model_chunk"],
  /** The active-model pointer. */
  activeModel: (): Key => ["active_model"],
  /** The training lease. */
  trainingLease: (): Key => ["training_lease"],
  /** Prefix of all training jobs. */
  trainingJobPrefix: (): Key => ["training_job"],
  /** One training job. */
  trainingJob: (jobId: string): Key => ["training_job", jobId],
  /** A checkpoint's metadata. */
  checkpointMeta: (jobId: string): Key => ["checkpoint", jobId, "meta"],
  /** Prefix of every chunk of a checkpoint, all generations. */
  checkpointChunksPrefix: (
    jobId: string,
  ): Key => ["checkpoint", jobId, "chunk"],
  /** Prefix of the chunks of one generation of a checkpoint. */
  checkpointChunkPrefix: (jobId: string, generation: number): Key => [
    "checkpoint",
    jobId,
    "chunk",
    generation,
  ],
  /** Chunk `index` of generation `generation` of a checkpoint. */
  checkpointChunk: (jobId: string, generation: number, index: number): Key => [
    "checkpoint",
    jobId,
    "chunk",
    generation,
    index,
  ],
  /** Prefix of everything of one checkpoint. */
  checkpointPrefix: (jobId: string): Key => ["checkpoint", jobId],
} as const;
