package org.anode.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Readers, sampling, augmentation, loader and download, on small data made here. */
class DataTest {
  @TempDir Path tmp;

  /** CIFAR-10 records: label i % 10, every pixel byte (i + k) % 256. */
  static byte[] cifar10Records(int n, int first) {
    byte[] out = new byte[n * 3073];
    for (int r = 0; r < n; r++) {
      out[r * 3073] = (byte) ((first + r) % 10);
      for (int k = 0; k < 3072; k++) {
        out[r * 3073 + 1 + k] = (byte) ((first + r + k) % 256);
      }
    }
    return out;
  }

  static Map<String, byte[]> cifar10Files(int perBatch) {
    Map<String, byte[]> files = new LinkedHashMap<>();
    for (int b = 1; b <= 5; b++) {
      files.put(
          "cifar-10-batches-bin/data_batch_" + b + ".bin",
          cifar10Records(perBatch, (b - 1) * perBatch));
    }
    files.put("cifar-10-batches-bin/test_batch.bin", cifar10Records(perBatch, 1000));
    return files;
  }

  static Path tarGz(Path file, Map<String, byte[]> entries) throws IOException {
    try (OutputStream out = Files.newOutputStream(file);
        TarArchiveOutputStream tar =
            new TarArchiveOutputStream(new GzipCompressorOutputStream(out))) {
      for (var e : entries.entrySet()) {
        TarArchiveEntry entry = new TarArchiveEntry(e.getKey());
        entry.setSize(e.getValue().length);
        tar.putArchiveEntry(entry);
        tar.write(e.getValue());
        tar.closeArchiveEntry();
      }
    }
    return file;
  }

  @Test
  void cifar10FromFolderAndArchiveAgree() throws IOException {
    Map<String, byte[]> files = cifar10Files(7);
    Path dir = tmp.resolve("extracted");
    for (var e : files.entrySet()) {
      Path p = dir.resolve(e.getKey());
      Files.createDirectories(p.getParent());
      Files.write(p, e.getValue());
    }
    Path archive = tarGz(tmp.resolve("cifar-10-binary.tar.gz"), files);
    for (Path source : List.of(dir, archive)) {
      ImageDataset train = CifarBinary.load(source, CifarBinary.Variant.CIFAR10, true);
      ImageDataset test = CifarBinary.load(source, CifarBinary.Variant.CIFAR10, false);
      assertEquals(35, train.size());
      assertEquals(7, test.size());
      assertEquals(
          List.of(
              "airplane",
              "automobile",
              "bird",
              "cat",
              "deer",
              "dog",
              "frog",
              "horse",
              "ship",
              "truck"),
          train.classNames());
      assertEquals(3, train.label(13));
      assertEquals((13 + 5) % 256, train.pixel(13, 0, 0, 5)); // red plane first
      assertEquals((13 + 1024) % 256, train.pixel(13, 1, 0, 0)); // then green
      assertTrue(CifarBinary.present(source, CifarBinary.Variant.CIFAR10));
    }
  }

  @Test
  void cifar100FineAndCoarseLabels() throws IOException {
    byte[] rec = new byte[3 * 3074];
    for (int r = 0; r < 3; r++) {
      rec[r * 3074] = (byte) (r + 2); // coarse
      rec[r * 3074 + 1] = (byte) (r * 30 + 7); // fine
    }
    Path dir = Files.createDirectories(tmp.resolve("c100"));
    Files.write(dir.resolve("train.bin"), rec);
    ImageDataset fine = CifarBinary.load(dir, CifarBinary.Variant.CIFAR100_FINE, true);
    ImageDataset coarse = CifarBinary.load(dir, CifarBinary.Variant.CIFAR100_COARSE, true);
    assertEquals(100, fine.classes());
    assertEquals(20, coarse.classes());
    assertEquals(67, fine.label(2));
    assertEquals(4, coarse.label(2));
  }

  @Test
  void truncatedOrMissingFilesNameTheFileAndRecord() throws IOException {
    Map<String, byte[]> files = cifar10Files(4);
    byte[] cut = files.get("cifar-10-batches-bin/data_batch_3.bin");
    files.put(
        "cifar-10-batches-bin/data_batch_3.bin", java.util.Arrays.copyOf(cut, cut.length - 100));
    Path archive = tarGz(tmp.resolve("bad.tar.gz"), files);
    IOException e =
        assertThrows(
            IOException.class, () -> CifarBinary.load(archive, CifarBinary.Variant.CIFAR10, true));
    assertTrue(e.getMessage().contains("data_batch_3.bin: record 3 is truncated"), e.getMessage());
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    IOException missing =
        assertThrows(
            IOException.class, () -> CifarBinary.load(empty, CifarBinary.Variant.CIFAR10, false));
    assertTrue(missing.getMessage().contains("test_batch.bin"), missing.getMessage());
  }

  static byte[] png(int r, int g, int b) throws IOException {
    BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 32; y++) {
      for (int x = 0; x < 32; x++) {
        img.setRGB(x, y, (r << 16) | (g << 8) | b);
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "png", out);
    return out.toByteArray();
  }

  @Test
  void imageFolderInsideAnArchiveWithBalancedSample() throws IOException {
    Map<String, byte[]> files = new LinkedHashMap<>();
    String[] classes = {"cat", "ant", "dog"};
    for (int c = 0; c < 3; c++) {
      for (int i = 0; i < 10; i++) {
        files.put("set/train/" + classes[c] + "/" + i + ".png", png(c * 100, i * 20, 7));
      }
      files.put("set/test/" + classes[c] + "/0.png", png(c * 100, 0, 0));
    }
    Path archive = tarGz(tmp.resolve("folder.tar.gz"), files);
    ImageDataset all = ImageFolder.load(archive, "train", 0, 1, 32, 32);
    assertEquals(30, all.size());
    assertEquals(List.of("ant", "cat", "dog"), all.classNames()); // sorted
    ImageDataset sample = ImageFolder.load(archive, "train", 9, 5, 32, 32);
    int[] counts = new int[3];
    for (int i = 0; i < sample.size(); i++) {
      counts[sample.label(i)]++;
      int cls = sample.label(i);
      int red = sample.pixel(i, 0, 3, 3);
      assertEquals(new int[] {100, 0, 200}[cls], red, "label and pixels belong together");
    }
    assertArrayEquals(new int[] {3, 3, 3}, counts);
    ImageDataset again = ImageFolder.load(archive, "train", 9, 5, 32, 32);
    for (int i = 0; i < 9; i++) {
      assertEquals(sample.pixel(i, 1, 0, 0), again.pixel(i, 1, 0, 0), "seeded sample");
    }
    assertEquals(3, ImageFolder.load(archive, "test", 0, 1, 32, 32).size());
    files.put("set/train/dog/broken.jpg", new byte[] {(byte) 0xFF, (byte) 0xD8, 1, 2, 3});
    Path bad = tarGz(tmp.resolve("broken.tar.gz"), files);
    IOException e =
        assertThrows(IOException.class, () -> ImageFolder.load(bad, "train", 0, 1, 32, 32));
    assertTrue(e.getMessage().contains("set/train/dog/broken.jpg"), e.getMessage());
  }

  @Test
  void augmentationAndLoaderAreSeeded() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("c10"));
    for (var e : cifar10Files(20).entrySet()) {
      Files.write(dir.resolve(Path.of(e.getKey()).getFileName()), e.getValue());
    }
    ImageDataset train = CifarBinary.load(dir, CifarBinary.Variant.CIFAR10, true);
    DataLoader loader = new DataLoader(train, 32, true, Augmentation.cifarTraining(), 9);
    assertEquals(4, loader.batches());
    List<int[]> first = new ArrayList<>();
    float[] firstImages;
    try (DataLoader.Epoch epoch = loader.epoch(0)) {
      DataLoader.Batch b = epoch.next();
      firstImages = b.images();
      first.add(b.labels());
      int total = b.size();
      while (epoch.hasNext()) {
        total += epoch.next().size();
      }
      assertEquals(100, total);
    }
    try (DataLoader.Epoch epoch = loader.epoch(0)) {
      DataLoader.Batch b = epoch.next();
      assertArrayEquals(first.get(0), b.labels());
      assertArrayEquals(firstImages, b.images());
    }
    try (DataLoader.Epoch epoch = loader.epoch(1)) {
      assertFalse(java.util.Arrays.equals(first.get(0), epoch.next().labels()));
    }
    // Evaluation: normalization only, in order.
    DataLoader eval = new DataLoader(train, 10, false, Augmentation.cifarEvaluation(), 0);
    try (DataLoader.Epoch epoch = eval.epoch(0)) {
      DataLoader.Batch b = epoch.next();
      float expected = (train.pixel(0, 2, 4, 5) / 255f - 0.4465f) / 0.2010f;
      assertEquals(expected, b.images()[(2 * 32 + 4) * 32 + 5], 1e-6);
      assertEquals(train.label(0), b.labels()[0]);
    }
  }

  @Test
  void downloadVerifiesTheChecksumFromALocalServer() throws Exception {
    Path served = tarGz(tmp.resolve("served.tar.gz"), cifar10Files(3));
    byte[] body = Files.readAllBytes(served);
    String md5 = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(body));
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/cifar-10-binary.tar.gz",
        ex -> {
          ex.sendResponseHeaders(200, body.length);
          try (OutputStream o = ex.getResponseBody()) {
            o.write(body);
          }
        });
    server.start();
    try {
      URI url =
          URI.create(
              "http://127.0.0.1:" + server.getAddress().getPort() + "/cifar-10-binary.tar.gz");
      Path dir = tmp.resolve("downloads");
      Path got =
          CifarDownload.ensure(dir, new CifarDownload.Source(url, "cifar-10-binary.tar.gz", md5));
      assertEquals(15, CifarBinary.load(got, CifarBinary.Variant.CIFAR10, true).size());
      assertEquals(
          got,
          CifarDownload.ensure(dir, new CifarDownload.Source(url, "cifar-10-binary.tar.gz", md5)));
      Path other = tmp.resolve("other");
      IOException bad =
          assertThrows(
              IOException.class,
              () ->
                  CifarDownload.ensure(
                      other,
                      new CifarDownload.Source(url, "cifar-10-binary.tar.gz", "0".repeat(32))));
      assertTrue(bad.getMessage().contains("checksum mismatch"), bad.getMessage());
      assertFalse(Files.exists(other.resolve("cifar-10-binary.tar.gz")));
    } finally {
      server.stop(0);
    }
    URI closed = URI.create("http://127.0.0.1:1/cifar-10-binary.tar.gz");
    IOException offline =
        assertThrows(
            IOException.class,
            () ->
                CifarDownload.ensure(
                    tmp.resolve("off"),
                    new CifarDownload.Source(closed, "cifar-10-binary.tar.gz", "x")));
    assertTrue(offline.getMessage().contains("Put cifar-10-binary.tar.gz"), offline.getMessage());
    assertNotEquals(-1, offline.getMessage().indexOf("off"));
  }
}
