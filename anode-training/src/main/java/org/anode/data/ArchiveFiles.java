package org.anode.data;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * The files of a folder or of a {@code .tar.gz}, visited in one pass with their '/'-separated names
 * (relative to the folder, or as stored in the archive). A file's bytes are read only when the
 * visitor asks for them, so listing an archive does not inflate it into memory.
 */
final class ArchiveFiles {
  private ArchiveFiles() {}

  interface Visitor {
    void visit(String name, Contents contents) throws IOException;
  }

  /** A visited file's bytes; valid only during its {@link Visitor#visit} call. */
  interface Contents {
    byte[] read() throws IOException;
  }

  static void forEach(Path path, Visitor v) throws IOException {
    if (Files.isDirectory(path)) {
      try (Stream<Path> walk = Files.walk(path)) {
        for (Path p : (Iterable<Path>) walk::iterator) {
          if (Files.isRegularFile(p)) {
            String name = path.relativize(p).toString().replace('\\', '/');
            v.visit(name, () -> Files.readAllBytes(p));
          }
        }
      }
      return;
    }
    try (InputStream in = new BufferedInputStream(Files.newInputStream(path));
        // Entry names as UTF-8 whatever the locale (LANG=C would make every non-ASCII letter '?',
        // and two class folders one).
        TarArchiveInputStream tar =
            new TarArchiveInputStream(new GzipCompressorInputStream(in), "UTF-8")) {
      TarArchiveEntry e;
      while ((e = next(path, tar)) != null) {
        if (!e.isFile()) {
          continue;
        }
        long size = e.getSize();
        String name = e.getName();
        v.visit(
            name,
            () -> {
              try {
                ByteArrayOutputStream buf = new ByteArrayOutputStream((int) Math.max(0, size));
                tar.transferTo(buf);
                return buf.toByteArray();
              } catch (IOException | RuntimeException x) {
                throw unreadable(path, name, x);
              }
            });
      }
    } catch (java.nio.file.NoSuchFileException x) {
      throw new IOException(path + ": no such file or directory", x);
    } catch (IOException | RuntimeException x) {
      if (x instanceof IOException io
          && io.getMessage() != null
          && io.getMessage().startsWith(path.toString())) {
        throw io; // already names the archive (or the visitor's own error)
      }
      throw unreadable(path, null, x);
    }
  }

  private static TarArchiveEntry next(Path path, TarArchiveInputStream tar) throws IOException {
    try {
      return tar.getNextEntry();
    } catch (IOException | RuntimeException x) {
      throw unreadable(path, null, x);
    }
  }

  /** An error that names the archive (and the entry), with the cause's message or type. */
  private static IOException unreadable(Path path, String entry, Exception cause) {
    String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    return new IOException(
        path
            + (entry == null ? "" : "!" + entry)
            + ": not a readable .tar.gz archive ("
            + why
            + ")",
        cause);
  }
}
