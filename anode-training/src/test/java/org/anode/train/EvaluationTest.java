package org.anode.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.data.Augmentation;
import org.anode.data.DataLoader;
import org.anode.data.ImageDataset;
import org.anode.nn.Flatten;
import org.anode.nn.Linear;
import org.anode.nn.ParameterFactory;
import org.anode.nn.Sequential;
import org.junit.jupiter.api.Test;

/** Mirror-averaged evaluation and the held-out split that settings are chosen on. */
class EvaluationTest {
  final Backend be = Backends.get();

  /**
   * For a linear model, the mean of the logits of an image and its mirror is the logits of the mean
   * image: flip evaluation must give exactly the loss and accuracy of the plain evaluation of the
   * symmetrized images, and report the unflipped accuracy beside it.
   */
  @Test
  void flipEvaluationAveragesTheLogitsOfTheImageAndItsMirror() {
    ImageDataset data = TrainingTest.synthetic(30, 11);
    ParameterFactory f = new ParameterFactory(be, DType.FLOAT64, 3);
    Sequential linear = new Sequential(new Flatten(), new Linear(f, 3 * 8 * 8, 3));
    DataLoader loader = new DataLoader(data, 7, false, Augmentation.cifarEvaluation(), 1);
    double[] flipped = Evaluation.run(be, linear, DType.FLOAT64, loader, true);
    double[] plain = Evaluation.run(be, linear, DType.FLOAT64, loader, false);
    assertEquals(3, flipped.length);
    assertEquals(plain[1], flipped[2], 0.0, "the unflipped accuracy comes from the same pass");

    byte[] px = new byte[30 * 192];
    int[] labels = new int[30];
    ImageDataset symmetric = symmetrized(data, px, labels);
    // Symmetric images equal their mirrors: their flip evaluation is the plain one.
    DataLoader sym = new DataLoader(symmetric, 7, false, Augmentation.cifarEvaluation(), 1);
    double[] a = Evaluation.run(be, linear, DType.FLOAT64, sym, true);
    double[] b = Evaluation.run(be, linear, DType.FLOAT64, sym, false);
    assertEquals(b[0], a[0], 1e-12);
    assertEquals(b[1], a[1], 0.0);

    DataLoader.Batch batch = loader.assemble(0, loader.order(0), 0, 7);
    DataLoader.Batch twice = Evaluation.mirrored(Evaluation.mirrored(batch, data), data);
    assertTrue(Arrays.equals(batch.images(), twice.images()), "mirroring twice is the identity");
    float[] once = Evaluation.mirrored(batch, data).images();
    assertEquals(batch.images()[0], once[7], 0f, "pixel x = 0 moves to x = 7 of an 8-wide row");
  }

  /** Each image of {@code data} averaged with its mirror (rounded to the byte it is stored as). */
  private static ImageDataset symmetrized(ImageDataset data, byte[] px, int[] labels) {
    for (int i = 0; i < data.size(); i++) {
      labels[i] = data.label(i);
      for (int c = 0; c < 3; c++) {
        for (int y = 0; y < 8; y++) {
          for (int x = 0; x < 8; x++) {
            int v = data.pixel(i, c, y, x) + data.pixel(i, c, y, 7 - x);
            px[((i * 3 + c) * 8 + y) * 8 + x] = (byte) (v / 2);
          }
        }
      }
    }
    return new ImageDataset(px, labels, data.classNames(), 3, 8, 8);
  }

  /** The held-out part is sample()'s class-balanced choice; the two parts cover the set once. */
  @Test
  void splitHoldsOutABalancedSampleAndKeepsTheRest() {
    ImageDataset data = TrainingTest.synthetic(90, 5);
    ImageDataset.Split s = data.split(12, 9);
    assertEquals(78, s.kept().size());
    assertEquals(12, s.heldOut().size());
    ImageDataset sample = data.sample(12, 9);
    Set<String> all = new HashSet<>();
    for (int i = 0; i < 12; i++) {
      assertEquals(sample.label(i), s.heldOut().label(i));
      assertEquals(sample.pixel(i, 1, 2, 3), s.heldOut().pixel(i, 1, 2, 3));
      all.add(fingerprint(s.heldOut(), i));
    }
    int[] perClass = new int[3];
    for (int i = 0; i < 12; i++) {
      perClass[s.heldOut().label(i)]++;
    }
    assertEquals("[4, 4, 4]", Arrays.toString(perClass));
    for (int i = 0; i < 78; i++) {
      all.add(fingerprint(s.kept(), i));
    }
    Set<String> original = new HashSet<>();
    for (int i = 0; i < 90; i++) {
      original.add(fingerprint(data, i));
    }
    assertEquals(original, all, "kept ∪ held out is the whole set");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> data.split(90, 1));
    assertTrue(e.getMessage().contains("cannot hold out 90 of 90 images"), e.getMessage());
  }

  private static String fingerprint(ImageDataset d, int i) {
    float[] v = new float[d.imageSize()];
    d.image(i, v, 0);
    return d.label(i) + Arrays.toString(v);
  }
}
