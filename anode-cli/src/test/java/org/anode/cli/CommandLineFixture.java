package org.anode.cli;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.junit.jupiter.api.io.TempDir;

/**
 * Small real files for command-line tests, written into a fresh folder per test: CIFAR's official
 * binary layout (in its record format), tar.gz archives of folders, images; and the arguments of a
 * tiny {@code anode train} run on them.
 */
abstract class CommandLineFixture {
  @TempDir Path tmp;

  // ---- data in the official binary layout ------------------------------------------------------

  /** {@code n} records of {@code labelBytes} label bytes and 3,072 pixels; labels cycle. */
  static byte[] records(int n, int labelBytes, int classes, int salt) {
    byte[] b = new byte[n * (labelBytes + 3072)];
    for (int r = 0; r < n; r++) {
      int base = r * (labelBytes + 3072);
      for (int k = 0; k < labelBytes; k++) {
        b[base + k] = (byte) ((r + k) % classes);
      }
      for (int p = 0; p < 3072; p++) {
        b[base + labelBytes + p] = (byte) ((p * 7 + r * 13 + salt) & 0xFF);
      }
    }
    return b;
  }

  /** CIFAR-10's binary files: 5 × {@code perBatch} training and {@code test} test records. */
  Path cifar10Folder(int perBatch, int test) throws IOException {
    Path dir = tmp.resolve("c10/cifar-10-batches-bin");
    Files.createDirectories(dir);
    for (int i = 1; i <= 5; i++) {
      Files.write(dir.resolve("data_batch_" + i + ".bin"), records(perBatch, 1, 10, i));
    }
    Files.write(dir.resolve("test_batch.bin"), records(test, 1, 10, 9));
    return tmp.resolve("c10");
  }

  static Path tarGz(Path folder, Path archive) throws IOException {
    try (OutputStream f = Files.newOutputStream(archive);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(new GzipCompressorOutputStream(f));
        var walk = Files.walk(folder)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        if (Files.isRegularFile(p)) {
          TarArchiveEntry e =
              new TarArchiveEntry(p.toFile(), folder.relativize(p).toString().replace('\\', '/'));
          tar.putArchiveEntry(e);
          Files.copy(p, tar);
          tar.closeArchiveEntry();
        }
      }
    }
    return archive;
  }

  List<String> train(Path data, String... more) {
    List<String> a =
        new ArrayList<>(
            List.of(
                "train",
                "--data",
                data.toString(),
                "--backend",
                "nd4j",
                "--width",
                "0.125",
                "--epochs",
                "1",
                "--batch",
                "20",
                "--lr",
                "0.05",
                "--schedule",
                "constant",
                "--checkpoint",
                tmp.resolve("run.ckpt").toString(),
                "--metrics",
                tmp.resolve("metrics.csv").toString(),
                "--no-progress"));
    for (int i = 0; i < more.length; i++) {
      int at = a.indexOf(more[i]);
      boolean flag = i + 1 >= more.length || more[i + 1].startsWith("--");
      if (at >= 0 && !flag) {
        a.set(at + 1, more[++i]); // replaces the default above
      } else {
        a.add(more[i]);
      }
    }
    return a;
  }

  CommandRun run(List<String> args) {
    return CommandRun.of(args.toArray(new String[0]));
  }

  static BufferedImage picture() {
    BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 32; y++) {
      for (int x = 0; x < 32; x++) {
        img.setRGB(x, y, (x * 8) << 16 | (y * 8) << 8 | ((x * y) & 0xFF));
      }
    }
    return img;
  }

  static void image(Path p) throws IOException {
    Files.createDirectories(p.getParent());
    ImageIO.write(picture(), "png", p.toFile());
  }
}
