package org.anode.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.anode.data.CifarBinary;
import org.anode.data.CifarDownload;
import org.anode.data.ImageDataset;
import org.anode.data.ImageFolder;

/** Finds the data that {@code --data} and {@code --dataset} name, downloading CIFAR if missing. */
final class Datasets {
  private Datasets() {}

  /** The train or test split, sampled to {@code limit} images (0: all). */
  static ImageDataset load(ModelOptions o, boolean train, int limit) throws IOException {
    CifarBinary.Variant variant =
        switch (o.dataset) {
          case "cifar10" -> CifarBinary.Variant.CIFAR10;
          case "cifar100" -> CifarBinary.Variant.CIFAR100_FINE;
          default ->
              throw new IllegalArgumentException(
                  "--dataset must be cifar10 or cifar100, got '" + o.dataset + "'");
        };
    Path path = o.data;
    if (Files.exists(path) && CifarBinary.present(path, variant)) {
      return CifarBinary.load(path, variant, train).sample(limit, o.seed);
    }
    if (Files.isRegularFile(path) || (Files.isDirectory(path) && hasImageFolder(path))) {
      return ImageFolder.load(path, train ? "train" : "test", limit, o.seed, 32, 32);
    }
    Path archive =
        CifarDownload.ensure(
            path,
            variant == CifarBinary.Variant.CIFAR10
                ? CifarDownload.CIFAR10
                : CifarDownload.CIFAR100);
    return CifarBinary.load(archive, variant, train).sample(limit, o.seed);
  }

  private static boolean hasImageFolder(Path dir) throws IOException {
    try (var walk = Files.walk(dir, 3)) {
      return walk.anyMatch(p -> p.getFileName().toString().equals("train") && Files.isDirectory(p));
    }
  }
}
