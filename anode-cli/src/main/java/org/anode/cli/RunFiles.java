package org.anode.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * The one policy for the files a training run writes, the same on one machine and on Spark, checked
 * before any data is read: the checkpoint and the metrics file are two different regular files (or
 * do not exist yet); an existing one is continued only with {@code --resume} and replaced only with
 * {@code --overwrite} — and then only when the new run has its replacement complete (the checkpoint
 * after its first epoch, the metrics with their first row).
 */
final class RunFiles {
  private RunFiles() {}

  static void check(Path checkpoint, Path metrics, boolean resume, boolean overwrite) {
    if (resume && overwrite) {
      throw new IllegalArgumentException("--resume and --overwrite exclude each other");
    }
    regularOrAbsent("--checkpoint", checkpoint);
    regularOrAbsent("--metrics", metrics);
    if (same(checkpoint, metrics)) {
      throw new IllegalArgumentException(
          "--checkpoint and --metrics name the same file (" + checkpoint + "): give two files");
    }
    if (resume && !Files.isRegularFile(checkpoint)) {
      throw new IllegalArgumentException(
          "--resume: no checkpoint at " + checkpoint + " (start without --resume)");
    }
    if (!resume && !overwrite) {
      for (Path p : new Path[] {checkpoint, metrics}) {
        if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
          throw new IllegalArgumentException(
              p
                  + " exists: --resume to continue that run, --overwrite to start a new one (the"
                  + " file is replaced when the new run's first epoch is saved), or another "
                  + (p == checkpoint ? "--checkpoint" : "--metrics"));
        }
      }
    }
  }

  private static void regularOrAbsent(String option, Path p) {
    if (Files.exists(p) && !Files.isRegularFile(p)) {
      throw new IllegalArgumentException(
          option
              + " "
              + p
              + " is "
              + (Files.isDirectory(p) ? "a directory" : "not a regular file")
              + ": name a file");
    }
  }

  private static boolean same(Path a, Path b) {
    if (a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize())) {
      return true;
    }
    try {
      return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
    } catch (IOException e) {
      return false;
    }
  }
}
