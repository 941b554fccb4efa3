package org.anode.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The official CIFAR binary format (https://www.cs.toronto.edu/~kriz/cifar.html): CIFAR-10 files
 * {@code data_batch_1..5.bin} and {@code test_batch.bin} of records {@code <label><3072 pixels>};
 * CIFAR-100 files {@code train.bin} and {@code test.bin} of records {@code <coarse><fine><3072
 * pixels>}. Pixels are 32×32, channel-major (1,024 red, then green, then blue). Reads an extracted
 * folder (searched recursively) or the {@code .tar.gz} itself.
 */
public final class CifarBinary {
  private CifarBinary() {}

  /** Which CIFAR, and for CIFAR-100 which labels. */
  public enum Variant {
    CIFAR10(
        1,
        0,
        List.of(
            "data_batch_1.bin",
            "data_batch_2.bin",
            "data_batch_3.bin",
            "data_batch_4.bin",
            "data_batch_5.bin"),
        List.of("test_batch.bin")),
    CIFAR100_FINE(2, 1, List.of("train.bin"), List.of("test.bin")),
    CIFAR100_COARSE(2, 0, List.of("train.bin"), List.of("test.bin"));

    final int labelBytes;
    final int labelIndex;
    final List<String> trainFiles;
    final List<String> testFiles;

    Variant(int labelBytes, int labelIndex, List<String> train, List<String> test) {
      this.labelBytes = labelBytes;
      this.labelIndex = labelIndex;
      this.trainFiles = train;
      this.testFiles = test;
    }

    int classes() {
      return this == CIFAR10 ? 10 : this == CIFAR100_FINE ? 100 : 20;
    }

    int recordSize() {
      return labelBytes + IMAGE_BYTES;
    }

    List<String> files(boolean train) {
      return train ? trainFiles : testFiles;
    }
  }

  static final int IMAGE_BYTES = 3 * 32 * 32;

  /** CIFAR-10's class names, in label order. */
  public static final List<String> CIFAR10_CLASSES =
      List.of(
          "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck");

  /** Whether {@code path} (a folder or a .tar.gz) holds the files of {@code variant}. */
  public static boolean present(Path path, Variant variant) {
    try {
      return Files.exists(path)
          && readFiles(path, variant, true, true).size() == variant.trainFiles.size();
    } catch (IOException e) {
      return false;
    }
  }

  /** The training or test split of {@code variant} from {@code path}. */
  public static ImageDataset load(Path path, Variant variant, boolean train) throws IOException {
    Map<String, byte[]> files = readFiles(path, variant, train, false);
    List<String> missing = new ArrayList<>();
    for (String f : variant.files(train)) {
      if (!files.containsKey(f)) {
        missing.add(f);
      }
    }
    if (!missing.isEmpty()) {
      throw new IOException(
          path + " does not contain " + missing + " (expected the " + variant + " binary version)");
    }
    int record = variant.recordSize();
    int total = 0;
    for (String f : variant.files(train)) {
      byte[] data = files.get(f);
      if (data.length % record != 0) {
        throw new IOException(
            path
                + "!"
                + f
                + ": record "
                + data.length / record
                + " is truncated ("
                + data.length % record
                + " of "
                + record
                + " bytes)");
      }
      total += data.length / record;
    }
    byte[] pixels = new byte[total * IMAGE_BYTES];
    int[] labels = new int[total];
    int k = 0;
    for (String f : variant.files(train)) {
      byte[] data = files.get(f);
      for (int r = 0; r < data.length / record; r++, k++) {
        int label = data[r * record + variant.labelIndex] & 0xFF;
        if (label >= variant.classes()) {
          throw new IOException(
              path
                  + "!"
                  + f
                  + ": record "
                  + r
                  + " has label "
                  + label
                  + ", outside [0, "
                  + variant.classes()
                  + ")");
        }
        labels[k] = label;
        System.arraycopy(
            data, r * record + variant.labelBytes, pixels, k * IMAGE_BYTES, IMAGE_BYTES);
      }
    }
    List<String> names = new ArrayList<>();
    for (int c = 0; c < variant.classes(); c++) {
      names.add(variant == Variant.CIFAR10 ? CIFAR10_CLASSES.get(c) : Integer.toString(c));
    }
    return new ImageDataset(pixels, labels, names, 3, 32, 32);
  }

  private static Map<String, byte[]> readFiles(
      Path path, Variant variant, boolean train, boolean namesOnly) throws IOException {
    List<String> wanted = variant.files(train);
    Map<String, byte[]> out = new LinkedHashMap<>();
    try {
      ArchiveFiles.forEach(
          path,
          (entry, contents) -> {
            String name = entry.substring(entry.lastIndexOf('/') + 1);
            if (wanted.contains(name) && !out.containsKey(name)) {
              out.put(name, namesOnly ? new byte[0] : contents.read());
            }
          });
    } catch (IOException e) {
      if (Files.isDirectory(path)) {
        throw e;
      }
      throw new IOException(path + ": not a readable .tar.gz (" + e.getMessage() + ")", e);
    }
    return out;
  }
}
