//VERSION=3
// Sentinel-2 L1C, all 13 bands (B10 included) in ESA order, as top-of-atmosphere reflectance
// x 10000 (uint16), then Sentinel Hub's cloud mask (CLM: s2cloudless, 0 clear, 1 cloud, 255
// no data), and dataMask last (0 where the scene has no data). Request it with
// processing.harmonizeValues = true so baseline >= 04.00 scenes carry no +1000 offset.
function setup() {
  return {
    input: [{
      bands: ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12", "CLM", "dataMask"],
      units: ["REFLECTANCE", "REFLECTANCE", "REFLECTANCE", "REFLECTANCE", "REFLECTANCE", "REFLECTANCE",
              "REFLECTANCE", "REFLECTANCE", "REFLECTANCE", "REFLECTANCE", "REFLECTANCE", "REFLECTANCE",
              "REFLECTANCE", "DN", "DN"]
    }],
    output: { bands: 15, sampleType: "UINT16" }
  };
}

function evaluatePixel(s) {
  return [s.B01, s.B02, s.B03, s.B04, s.B05, s.B06, s.B07, s.B08, s.B8A, s.B09, s.B10, s.B11, s.B12]
    .map(function (v) { return v * 10000; })
    .concat([s.CLM, s.dataMask]);
}
