package org.anode.train;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An exclusive lock on a checkpoint for the length of a run ({@code <checkpoint>.lock}, an OS file
 * lock, released by the OS if the process dies), so that a second run on the same checkpoint stops
 * at once instead of racing the first one's renames and interleaving its metrics.
 */
public final class CheckpointLock implements AutoCloseable {
  private final Path file;
  private final FileChannel channel;
  private final FileLock lock;

  private CheckpointLock(Path file, FileChannel channel, FileLock lock) {
    this.file = file;
    this.channel = channel;
    this.lock = lock;
  }

  /** Locks {@code checkpoint}, or fails naming it when another run (or this one) holds it. */
  public static CheckpointLock acquire(Path checkpoint) throws IOException {
    Path file = checkpoint.resolveSibling(checkpoint.getFileName() + ".lock");
    FileChannel channel;
    try {
      Path dir = file.toAbsolutePath().getParent();
      if (dir != null) {
        Files.createDirectories(dir);
      }
      channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new IOException(
          checkpoint
              + ": cannot create the lock file "
              + file
              + " ("
              + Checkpoint.describe(e)
              + ")",
          e);
    }
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      channel.close();
      throw new IOException(
          checkpoint + ": in use by another anode run (it holds " + file + "); wait for it to end");
    }
    return new CheckpointLock(file, channel, lock);
  }

  @Override
  public void close() throws IOException {
    try {
      Files.deleteIfExists(file);
      lock.release();
    } finally {
      channel.close();
    }
  }
}
