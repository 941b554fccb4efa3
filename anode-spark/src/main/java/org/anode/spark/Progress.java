package org.anode.spark;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * How far the running epoch has come, passed from worker 0 to the driver through a small file
 * beside the checkpoint ({@code <checkpoint>.progress}, a path both see): Spark reports a task's
 * results only when it ends, and an epoch is one task per worker.
 */
public final class Progress {
  private Progress() {}

  /** What the driver is told: images of the epoch done, of how many. */
  @FunctionalInterface
  public interface Listener {
    void update(int epoch, long images, long total);
  }

  static Path file(DistributedJob job) {
    return Path.of(job.checkpoint() + ".progress");
  }

  /** Worker 0, after each step: written beside and renamed, so a reader never sees half of it. */
  static void write(DistributedJob job, int epoch, long images, long total) {
    Path f = file(job);
    Path tmp = Path.of(f + ".tmp");
    try {
      Files.writeString(tmp, epoch + " " + images + " " + total);
      Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      // Progress is a courtesy: training goes on without it.
    }
  }

  /** The driver: the progress of {@code epoch} if the file speaks of it. */
  static void read(DistributedJob job, int epoch, Listener listener) {
    try {
      String[] v = Files.readString(file(job)).trim().split(" ");
      if (v.length == 3 && Integer.parseInt(v[0]) == epoch) {
        listener.update(epoch, Long.parseLong(v[1]), Long.parseLong(v[2]));
      }
    } catch (IOException | RuntimeException e) {
      // not there yet, or from another epoch
    }
  }
}
