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
        TarArchiveInputStream tar = new TarArchiveInputStream(new GzipCompressorInputStream(in))) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        if (!e.isFile()) {
          continue;
        }
        long size = e.getSize();
        v.visit(
            e.getName(),
            () -> {
              ByteArrayOutputStream buf = new ByteArrayOutputStream((int) Math.max(0, size));
              tar.transferTo(buf);
              return buf.toByteArray();
            });
      }
    }
  }
}
