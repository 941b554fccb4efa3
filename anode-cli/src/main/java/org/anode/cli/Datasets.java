package org.anode.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.anode.data.CifarBinary;
import org.anode.data.CifarDownload;
import org.anode.data.ImageDataset;
import org.anode.data.ImageFolder;

/** Finds the data that {@code --data} and {@code --dataset} name, downloading CIFAR if missing. */
final class Datasets {
  private Datasets() {}

  /**
   * The train or test split, sampled to {@code limit} images (0: all). Only the default folder is
   * downloaded into; a {@code --data} path that does not exist is an error. The data must hold
   * images and exactly the classes of {@code --dataset}.
   */
  static ImageDataset load(RunConfig o, boolean train, int limit) throws IOException {
    ImageDataset d = find(o, train, limit);
    String split = train ? "training" : "test";
    if (d.size() == 0) {
      throw new IOException(o.data() + ": the " + split + " split holds no images");
    }
    if (d.classes() != o.classes()) {
      throw new IllegalArgumentException(
          "--dataset "
              + o.dataset()
              + " has "
              + o.classes()
              + " classes, but "
              + o.data()
              + " holds "
              + d.classes()
              + " "
              + abbreviate(d.classNames()));
    }
    return d;
  }

  private static String abbreviate(List<String> names) {
    return names.size() <= 12
        ? names.toString()
        : names.subList(0, 12).toString().replace("]", ", …]");
  }

  private static ImageDataset find(RunConfig o, boolean train, int limit) throws IOException {
    CifarBinary.Variant variant =
        o.classes() == 10 ? CifarBinary.Variant.CIFAR10 : CifarBinary.Variant.CIFAR100_FINE;
    Path path = Path.of(o.data());
    if (!Files.exists(path) && o.dataGiven()) {
      throw new IOException(path + ": no such file or directory (--data)");
    }
    if (Files.exists(path) && CifarBinary.present(path, variant)) {
      return CifarBinary.load(path, variant, train).sample(limit, o.seed());
    }
    // A folder holding the official archive, as the default folder does after a download.
    Path archive = path.resolve(source(variant).fileName());
    if (Files.isDirectory(path) && Files.isRegularFile(archive)) {
      return CifarBinary.load(archive, variant, train).sample(limit, o.seed());
    }
    if (Files.isRegularFile(path) || (Files.isDirectory(path) && hasImageFolder(path))) {
      return ImageFolder.load(path, train ? "train" : "test", limit, o.seed(), 32, 32);
    }
    if (o.dataGiven()) {
      throw new IOException(
          path
              + ": holds neither the "
              + variant
              + " binary files nor <split>/<class>/ image folders (--data)");
    }
    return CifarBinary.load(CifarDownload.ensure(path, source(variant)), variant, train)
        .sample(limit, o.seed());
  }

  private static CifarDownload.Source source(CifarBinary.Variant variant) {
    return variant == CifarBinary.Variant.CIFAR10 ? CifarDownload.CIFAR10 : CifarDownload.CIFAR100;
  }

  private static boolean hasImageFolder(Path dir) throws IOException {
    try (var walk = Files.walk(dir, 3)) {
      return walk.anyMatch(p -> p.getFileName().toString().equals("train") && Files.isDirectory(p));
    }
  }
}
