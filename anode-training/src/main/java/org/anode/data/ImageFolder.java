package org.anode.data;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Images in one folder per class ({@code .../<split>/<class>/<name>.jpg|png}), in a directory or
 * inside a {@code .tar.gz}, as the JPEG CIFAR-10 archive is laid out ({@code
 * cifar10/train/airplane/0001.jpg}). The class index comes from the training split's folders,
 * sorted by name, for both splits: a test class that the training split lacks is an error, never a
 * silent relabelling. A limit takes a seeded sample balanced across classes and decodes only those
 * images. An image the decoder warns about (a truncated JPEG) is an error naming the file.
 */
public final class ImageFolder {
  private ImageFolder() {}

  private record Item(String name, int label) {}

  /**
   * The {@code split} ("train" or "test") of the archive or folder at {@code path}, limited to a
   * balanced seeded sample of {@code limit} images (0: all); every image must be {@code height ×
   * width} RGB.
   */
  public static ImageDataset load(
      Path path, String split, int limit, long seed, int height, int width) throws IOException {
    Map<String, Map<String, List<String>>> splits = list(path);
    Map<String, List<String>> byClass = splits.getOrDefault(split, Map.of());
    if (byClass.isEmpty()) {
      throw new IOException(
          path
              + ": no images under a '"
              + split
              + "/<class>/' folder (expected .jpg or .png files)");
    }
    Map<String, List<String>> training = splits.getOrDefault("train", Map.of());
    if (training.isEmpty()) {
      throw new IOException(
          path + ": no 'train/<class>/' folders, which define the class index of every split");
    }
    List<String> classes = new ArrayList<>(new TreeSet<>(training.keySet()));
    for (String c : new TreeSet<>(byClass.keySet())) {
      if (!training.containsKey(c)) {
        throw new IOException(
            path
                + ": "
                + split
                + " class '"
                + c
                + "' is not among the training classes "
                + classes);
      }
    }
    List<Item> items = new ArrayList<>();
    for (int c = 0; c < classes.size(); c++) {
      List<String> names = new ArrayList<>(byClass.getOrDefault(classes.get(c), List.of()));
      names.sort(null);
      for (String n : names) {
        items.add(new Item(n, c));
      }
    }
    if (limit > 0 && limit < items.size()) {
      int[] labels = items.stream().mapToInt(Item::label).toArray();
      int[] keep = ImageDataset.balancedIndices(labels, classes.size(), limit, seed);
      List<Item> chosen = new ArrayList<>();
      for (int k : keep) {
        chosen.add(items.get(k));
      }
      items = chosen;
    }
    List<Item> selected = items;
    Map<String, Integer> position = new HashMap<>();
    for (int i = 0; i < selected.size(); i++) {
      position.put(selected.get(i).name(), i);
    }
    int per = 3 * height * width;
    byte[] pixels = new byte[items.size() * per];
    int[] labels = new int[items.size()];
    boolean[] decoded = new boolean[items.size()];
    ArchiveFiles.forEach(
        path,
        (name, bytes) -> {
          Integer i = position.get(name);
          if (i == null) {
            return;
          }
          if (decoded[i]) {
            throw new IOException(path + ": two entries are named " + name);
          }
          decode(path, name, bytes.read(), pixels, i * per, height, width);
          labels[i] = selected.get(i).label();
          decoded[i] = true;
        });
    List<String> missing = new ArrayList<>();
    for (int i = 0; i < decoded.length; i++) {
      if (!decoded[i]) {
        missing.add(selected.get(i).name());
      }
    }
    if (!missing.isEmpty()) {
      throw new IOException(
          path
              + ": "
              + missing.size()
              + " listed images could not be read, such as "
              + missing.subList(0, Math.min(3, missing.size()))
              + (Charset.defaultCharset().equals(StandardCharsets.UTF_8)
                  ? ""
                  : " (file names in " + Charset.defaultCharset() + ": run with a UTF-8 locale)"));
    }
    return new ImageDataset(pixels, labels, classes, 3, height, width);
  }

  private static boolean isImage(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    return n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".png");
  }

  /** Image names by class, by split. */
  private static Map<String, Map<String, List<String>>> list(Path path) throws IOException {
    Map<String, Map<String, List<String>>> out = new HashMap<>();
    ArchiveFiles.forEach(
        path,
        (name, bytes) -> {
          String[] parts = name.split("/");
          if (parts.length >= 3 && isImage(name)) {
            out.computeIfAbsent(parts[parts.length - 3], k -> new HashMap<>())
                .computeIfAbsent(parts[parts.length - 2], k -> new ArrayList<>())
                .add(name);
          }
        });
    return out;
  }

  /**
   * Decodes with the first reader ImageIO finds; its warnings (such as "Premature end of JPEG
   * file", which ImageIO.read ignores while filling the rest with grey) are errors.
   */
  private static BufferedImage read(Path path, String name, byte[] data) throws IOException {
    List<String> warnings = new ArrayList<>();
    try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(data))) {
      Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
      if (!readers.hasNext()) {
        throw new IOException(path + "!" + name + ": not a decodable JPEG or PNG image");
      }
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
        BufferedImage img = reader.read(0);
        if (!warnings.isEmpty()) {
          throw new IOException(path + "!" + name + ": corrupt image (" + warnings.get(0) + ")");
        }
        return img;
      } finally {
        reader.dispose();
      }
    } catch (IOException e) {
      if (e.getMessage() != null && e.getMessage().startsWith(path + "!" + name)) {
        throw e;
      }
      throw new IOException(path + "!" + name + ": corrupt image (" + e.getMessage() + ")", e);
    } catch (RuntimeException e) {
      throw new IOException(path + "!" + name + ": corrupt image (" + e + ")", e);
    }
  }

  private static void decode(
      Path path, String name, byte[] data, byte[] dst, int offset, int height, int width)
      throws IOException {
    BufferedImage img = read(path, name, data);
    if (img.getHeight() != height || img.getWidth() != width) {
      throw new IOException(
          path
              + "!"
              + name
              + ": image is "
              + img.getWidth()
              + "×"
              + img.getHeight()
              + ", expected "
              + width
              + "×"
              + height);
    }
    int plane = height * width;
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        int rgb = img.getRGB(x, y);
        int k = y * width + x;
        dst[offset + k] = (byte) ((rgb >> 16) & 0xFF);
        dst[offset + plane + k] = (byte) ((rgb >> 8) & 0xFF);
        dst[offset + 2 * plane + k] = (byte) (rgb & 0xFF);
      }
    }
  }
}
