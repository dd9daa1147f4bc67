/**
 * A mount to perform, containerd-style: the snapshotter describes it, a Mounter performs it.
 * `cwd` is the directory the option paths are relative to (the mount must be made from there).
 */
export interface MountDescription {
  type: 'overlay' | 'bind';
  source: string;
  options: string[];
  cwd?: string;
}

export interface SnapshotInfo {
  key: string;
  /** Short directory name under `<root>/s/`. */
  id: string;
  /** Absolute layer directories, lowest first. */
  parents: string[];
  createdAt: string;
  upperDir: string;
  workDir: string;
}

/** Prepares writable snapshots over read-only layer directories (see STYLE.md 14). */
export interface Snapshotter {
  prepare(key: string, parentLayerDirs: string[]): Promise<MountDescription>;
  mounts(key: string): Promise<MountDescription>;
  remove(key: string): Promise<void>;
  list(): Promise<SnapshotInfo[]>;
  info(key: string): Promise<SnapshotInfo | undefined>;
}

/** Performs mount descriptions on a target directory and undoes them. */
export interface Mounter {
  mount(m: MountDescription, target: string): Promise<void>;
  unmount(target: string): Promise<void>;
  isMounted(target: string): Promise<boolean>;
  /** Mount points at or below `dir`, deepest first. */
  mountsUnder(dir: string): Promise<string[]>;
}
