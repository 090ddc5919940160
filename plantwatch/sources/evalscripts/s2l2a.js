//VERSION=3
// Sentinel-2 L2A, the 12 bands of plantwatch's S2L2A product in ESA order, as reflectance
// x 10000 (uint16), then the scene classification (SCL, Sen2Cor's classes, upsampled by
// nearest neighbour), and dataMask last (0 where the scene has no data). Request it with
// processing.harmonizeValues = true so baseline >= 04.00 scenes carry no +1000 offset.
function setup() {
  return {
    input: [{
      bands: ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12", "SCL", "dataMask"],
      units: ["REFLECTANCE", "REFLECTANCE", "REFLECTANCE", "REFLECTANCE", "REFLECTANCE", "REFLECTANCE",
              "REFLECTANCE", "REFLECTANCE", "REFLECTANCE", "REFLECTANCE", "REFLECTANCE", "REFLECTANCE",
              "DN", "DN"]
    }],
    output: { bands: 14, sampleType: "UINT16" }
  };
}

function evaluatePixel(s) {
  return [s.B01, s.B02, s.B03, s.B04, s.B05, s.B06, s.B07, s.B08, s.B8A, s.B09, s.B11, s.B12]
    .map(function (v) { return v * 10000; })
    .concat([s.SCL, s.dataMask]);
}
