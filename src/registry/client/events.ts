// What pull and push tell as they go (the library emits these; only the CLI renders them).

/** A layer's state in a pull, in the order they come (docker pull's words in the comments). */
export type PullLayerStatus =
  | "waiting" //       Waiting / Pulling fs layer
  | "exists" //        Already exists (in the store: no download)
  | "downloading" //   Downloading 1.2MB/3.4MB
  | "retrying" //      the connection broke: trying again (resuming with Range)
  | "verifying" //     Verifying Checksum
  | "downloaded" //    Download complete
  | "extracting" //    Extracting
  | "done"; //         Pull complete

export type PullEvent =
  | { type: "resolved"; ref: string; digest: string; mediaType: string; platform?: string; layers: { digest: string; size: number }[] }
  | { type: "layer"; digest: string; status: PullLayerStatus; current?: number; total?: number; message?: string }
  | { type: "pulled"; ref: string; id: string; digest: string; upToDate: boolean };

export type PushLayerStatus =
  | "waiting" //   Waiting
  | "exists" //    Layer already exists
  | "mounted" //   Mounted from <repo>
  | "uploading" // Pushing 1.2MB/3.4MB
  | "retrying"
  | "pushed"; //   Pushed

export type PushEvent =
  | { type: "preparing"; repository: string; layers: { digest: string; size: number }[] }
  | { type: "layer"; digest: string; status: PushLayerStatus; current?: number; total?: number; from?: string; message?: string }
  | { type: "pushed"; ref: string; tag?: string; digest: string; size: number };

/** A layer's short ID as docker shows it: the first 12 hex digits. */
export function shortId(digest: string): string {
  return digest.slice(digest.indexOf(":") + 1, digest.indexOf(":") + 13);
}
