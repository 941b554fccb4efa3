package org.anode.data;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import javax.imageio.ImageIO;

/**
 * Images in one folder per class ({@code .../<split>/<class>/<name>.jpg|png}), in a directory or
 * inside a {@code .tar.gz}, as the JPEG CIFAR-10 archive is laid out ({@code
 * cifar10/train/airplane/0001.jpg}). Classes are sorted by name. A limit takes a seeded sample
 * balanced across classes and decodes only those images.
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
    Map<String, List<String>> byClass = list(path, split);
    if (byClass.isEmpty()) {
      throw new IOException(
          path
              + ": no images under a '"
              + split
              + "/<class>/' folder (expected .jpg or .png files)");
    }
    List<String> classes = new ArrayList<>(new TreeSet<>(byClass.keySet()));
    List<Item> items = new ArrayList<>();
    for (int c = 0; c < classes.size(); c++) {
      List<String> names = new ArrayList<>(byClass.get(classes.get(c)));
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
    int[] decoded = {0};
    ArchiveFiles.forEach(
        path,
        (name, bytes) -> {
          Integer i = position.get(name);
          if (i == null) {
            return;
          }
          decode(path, name, bytes.read(), pixels, i * per, height, width);
          labels[i] = selected.get(i).label();
          decoded[0]++;
        });
    if (decoded[0] != items.size()) {
      throw new IOException(
          path + ": " + (items.size() - decoded[0]) + " listed images could not be read");
    }
    return new ImageDataset(pixels, labels, classes, 3, height, width);
  }

  private static boolean isImage(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    return n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".png");
  }

  /** Image names by class for one split. */
  private static Map<String, List<String>> list(Path path, String split) throws IOException {
    Map<String, List<String>> out = new HashMap<>();
    ArchiveFiles.forEach(
        path,
        (name, bytes) -> {
          String[] parts = name.split("/");
          if (parts.length >= 3 && isImage(name) && parts[parts.length - 3].equals(split)) {
            out.computeIfAbsent(parts[parts.length - 2], k -> new ArrayList<>()).add(name);
          }
        });
    return out;
  }

  private static void decode(
      Path path, String name, byte[] data, byte[] dst, int offset, int height, int width)
      throws IOException {
    BufferedImage img;
    try {
      img = ImageIO.read(new ByteArrayInputStream(data));
    } catch (IOException | RuntimeException e) {
      throw new IOException(path + "!" + name + ": corrupt image (" + e.getMessage() + ")", e);
    }
    if (img == null) {
      throw new IOException(path + "!" + name + ": not a decodable JPEG or PNG image");
    }
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
