package org.anode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/**
 * The command line on real and broken data: the official CIFAR binaries (folder or archive, 10 or
 * 100 classes), empty splits, image folders whose classes disagree, and damaged or missing files,
 * each named in its error.
 */
class DataGuardsTest extends CommandLineFixture {
  /** The official binaries, folder or archive, CIFAR-10 or -100, all images or a limit. */
  @Test
  void officialBinariesTrainOnEveryImageOrTheLimit() throws Exception {
    Path folder = cifar10Folder(8, 20);
    CommandRun all = run(train(folder, "--overwrite"));
    assertEquals(0, all.code(), all.all());
    assertTrue(all.out().contains("data: 40 training and 20 test images"), all.out());
    Path archive = tarGz(folder, tmp.resolve("cifar-10-binary.tar.gz"));
    CommandRun limited =
        run(train(archive, "--overwrite", "--train-limit", "30", "--test-limit", "10"));
    assertEquals(0, limited.code(), limited.all());
    assertTrue(limited.out().contains("data: 30 training and 10 test images"), limited.out());
    CommandRun viaArchive = run(train(archive, "--overwrite"));
    assertTrue(viaArchive.out().contains("data: 40 training and 20 test images"), viaArchive.out());

    Path c100 = tmp.resolve("c100/cifar-100-binary");
    Files.createDirectories(c100);
    Files.write(c100.resolve("train.bin"), records(200, 2, 100, 1));
    Files.write(c100.resolve("test.bin"), records(100, 2, 100, 2));
    CommandRun hundred = run(train(tmp.resolve("c100"), "--dataset", "cifar100", "--overwrite"));
    assertEquals(0, hundred.code(), hundred.all());
    assertTrue(hundred.out().contains("data: 200 training and 100 test images"), hundred.out());
    Path archive100 = tarGz(tmp.resolve("c100"), tmp.resolve("cifar-100-binary.tar.gz"));
    CommandRun hundredLimited =
        run(train(archive100, "--dataset", "cifar100", "--overwrite", "--train-limit", "100"));
    assertTrue(
        hundredLimited.out().contains("data: 100 training and 100 test images"),
        hundredLimited.out());
  }

  /** Zero images is an error, not a run of NaN epochs. */
  @Test
  void emptyDataIsAnError() throws Exception {
    Path folder = cifar10Folder(0, 0);
    CommandRun r = run(train(folder));
    assertEquals(1, r.code(), r.all());
    assertTrue(r.err().contains("holds no images"), r.err());
    assertFalse(Files.exists(tmp.resolve("run.ckpt")));
  }

  /** One class index for both splits, and the class count of --dataset. */
  @Test
  void classesMustAgreeAcrossSplitsAndWithTheDataset() throws Exception {
    Path root = tmp.resolve("folders");
    List<String> ten = List.of("c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9");
    for (String c : ten) {
      image(root.resolve("train/" + c + "/0001.png"));
      image(root.resolve("test/" + (c.equals("c0") ? "cat" : c) + "/0001.png"));
    }
    CommandRun r = run(train(root));
    assertEquals(1, r.code());
    assertTrue(
        r.err().contains("test class 'cat' is not among the training classes [c0,"), r.err());

    CommandRun hundred = run(train(cifar10Folder(4, 20), "--dataset", "cifar100"));
    assertEquals(1, hundred.code());
    assertTrue(
        hundred.err().contains("does not contain [train.bin]")
            || hundred.err().contains("holds neither"),
        hundred.err());

    Path three = tmp.resolve("three");
    for (String c : List.of("a", "b", "c")) {
      image(three.resolve("train/" + c + "/0001.png"));
      image(three.resolve("test/" + c + "/0001.png"));
    }
    CommandRun r3 = run(train(three));
    assertEquals(1, r3.code());
    assertTrue(
        r3.err().contains("--dataset cifar10 has 10 classes, but " + three + " holds 3 [a, b, c]"),
        r3.err());
  }

  /** A truncated JPEG, a damaged archive and a missing path name the file. */
  @Test
  void badFilesAreNamed() throws Exception {
    Path root = tmp.resolve("jpegs");
    for (String c : List.of("a", "b")) {
      for (String split : List.of("train", "test")) {
        Path p = root.resolve(split + "/" + c + "/0001.jpg");
        Files.createDirectories(p.getParent());
        ImageIO.write(picture(), "jpg", p.toFile());
      }
    }
    Path cut = root.resolve("train/b/0001.jpg");
    byte[] whole = Files.readAllBytes(cut);
    Files.write(cut, Arrays.copyOf(whole, whole.length * 9 / 10));
    CommandRun r = run(train(root));
    assertEquals(1, r.code());
    assertTrue(r.err().contains("train/b/0001.jpg: corrupt image"), r.err());

    Path damaged = tmp.resolve("cifar10.tar.gz");
    byte[] gz = Files.readAllBytes(tarGz(cifar10Folder(4, 4), tmp.resolve("ok.tar.gz")));
    Files.write(damaged, Arrays.copyOf(gz, gz.length / 2));
    CommandRun d = run(train(damaged));
    assertEquals(1, d.code());
    assertTrue(d.err().contains(damaged + ": not a readable .tar.gz archive"), d.err());

    Path random = tmp.resolve("random.tar.gz");
    Files.write(random, "not gzip at all".getBytes(StandardCharsets.UTF_8));
    CommandRun g = run(train(random));
    assertEquals(1, g.code());
    assertTrue(g.err().contains(random + ": not a readable .tar.gz archive"), g.err());

    Path nowhere = tmp.resolve("nowhere/cifar10-jpg.tar.gz");
    CommandRun n = run(train(nowhere));
    assertEquals(1, n.code());
    assertTrue(n.err().contains(nowhere + ": no such file or directory"), n.err());
    assertFalse(Files.exists(nowhere.getParent()), "nothing is created for a missing --data");
  }
}
