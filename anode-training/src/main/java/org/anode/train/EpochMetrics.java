package org.anode.train;

/** What one epoch of training measured. */
public record EpochMetrics(
    int epoch,
    double learningRate,
    double trainLoss,
    double trainAccuracy,
    double testLoss,
    double testAccuracy,
    double seconds,
    double imagesPerSecond,
    long peakSavedBytes,
    long peakLiveBytes) {

  static final String CSV_HEADER =
      "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,peak_saved_bytes,"
          + "peak_live_bytes";

  String csv() {
    return String.format(
        java.util.Locale.ROOT,
        "%d,%g,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%d,%d",
        epoch,
        learningRate,
        trainLoss,
        trainAccuracy,
        testLoss,
        testAccuracy,
        seconds,
        imagesPerSecond,
        peakSavedBytes,
        peakLiveBytes);
  }

  /**
   * The fields under their CSV names, in the CSV's order (written as JSON by {@link MetricsLog}).
   */
  java.util.Map<String, Object> fields() {
    java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
    m.put("epoch", epoch);
    m.put("lr", learningRate);
    m.put("train_loss", trainLoss);
    m.put("train_acc", trainAccuracy);
    m.put("test_loss", testLoss);
    m.put("test_acc", testAccuracy);
    m.put("seconds", seconds);
    m.put("images_per_s", imagesPerSecond);
    m.put("peak_saved_bytes", peakSavedBytes);
    m.put("peak_live_bytes", peakLiveBytes);
    return m;
  }
}
