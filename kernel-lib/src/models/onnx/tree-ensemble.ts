import { ModelError } from '../../errors';
import { ProtoWriter } from './protobuf';

/**
 * XGBoost JSON model → ONNX model with one ai.onnx.ml TreeEnsembleClassifier (multi:softprob) or
 * TreeEnsembleRegressor (reg:*) node, the same mapping onnxmltools uses: XGBoost sends x < split to
 * the left child ("yes"), which is ONNX's BRANCH_LT true branch; missing values follow default_left.
 */

type XgbTree = {
  left_children: number[];
  right_children: number[];
  split_indices: number[];
  split_conditions: number[];
  default_left: number[];
};

type XgbModel = {
  learner: {
    learner_model_param: { base_score: string; num_class: string; num_feature: string };
    objective: { name: string };
    gradient_booster: { name: string; model: { trees: XgbTree[]; tree_info: number[] } };
  };
};

export type OnnxExportOptions = {
  /** Recorded in the model's metadata (feature names in order, class names, versions). */
  metadata?: Record<string, string>;
  producerVersion?: string;
};

/** Names of the graph's input and outputs. */
export const ONNX_INPUT = 'features';
export const ONNX_LABEL_OUTPUT = 'label';
export const ONNX_PROBABILITIES_OUTPUT = 'probabilities';
export const ONNX_VALUE_OUTPUT = 'value';

// onnx.proto3 enums
const FLOAT = 1;
const INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

type Attribute =
  | { name: string; ints: number[] }
  | { name: string; floats: number[] }
  | { name: string; strings: string[] }
  | { name: string; string: string }
  | { name: string; int: number };

function writeAttribute(writer: ProtoWriter, attribute: Attribute): void {
  writer.message(5, (a) => {
    a.string(1, attribute.name);
    if ('ints' in attribute) a.packedInts(8, attribute.ints).int(20, ATTR.INTS);
    else if ('floats' in attribute) a.packedFloats(7, attribute.floats).int(20, ATTR.FLOATS);
    else if ('strings' in attribute) {
      for (const s of attribute.strings) a.string(9, s);
      a.int(20, ATTR.STRINGS);
    } else if ('string' in attribute) a.string(4, attribute.string).int(20, ATTR.STRING);
    else a.int(3, attribute.int).int(20, ATTR.INT);
  });
}

/** A ValueInfoProto for a tensor with a dynamic first dimension. */
function writeTensorInfo(writer: ProtoWriter, field: number, name: string, elemType: number, dims: Array<number | string>): void {
  writer.message(field, (v) => {
    v.string(1, name);
    v.message(2, (type) =>
      type.message(1, (tensor) => {
        tensor.int(1, elemType);
        tensor.message(2, (shape) => {
          for (const dim of dims) shape.message(1, (d) => (typeof dim === 'number' ? d.int(1, dim) : d.string(2, dim)));
        });
      }),
    );
  });
}

/** Convert XGBoost's JSON model (bytes or parsed) to ONNX bytes. */
export function xgboostJsonToOnnx(modelJson: Uint8Array | string | object, options: OnnxExportOptions = {}): Uint8Array {
  const model = (
    typeof modelJson === 'object' && !(modelJson instanceof Uint8Array)
      ? modelJson
      : JSON.parse(typeof modelJson === 'string' ? modelJson : new TextDecoder().decode(modelJson))
  ) as XgbModel;
  const learner = model.learner;
  if (learner.gradient_booster.name !== 'gbtree') {
    throw new ModelError(`only gbtree boosters export to ONNX, this model uses ${learner.gradient_booster.name}`);
  }
  const objective = learner.objective.name;
  const numClass = Number(learner.learner_model_param.num_class);
  const numFeatures = Number(learner.learner_model_param.num_feature);
  const baseScore = Number(learner.learner_model_param.base_score);
  const classification = objective === 'multi:softprob' || objective === 'multi:softmax';
  const regression = objective.startsWith('reg:squarederror') || objective === 'reg:pseudohubererror' || objective === 'reg:absoluteerror';
  if (!classification && !regression) {
    throw new ModelError(`objective ${objective} has no ONNX export here; use multi:softprob (classification) or reg:squarederror`);
  }

  const { trees, tree_info: treeInfo } = learner.gradient_booster.model;
  // Two classes: ONNX Runtime's TreeEnsembleClassifier treats a 2-class ensemble as binary and keeps
  // one score (it drops class 1's sum and negates class 0's), so a per-class encoding gives wrong
  // probabilities. softmax([s0, s1]) = [σ(s0 − s1), σ(s1 − s0)] with the base score cancelling, so the
  // export is one score, s1 − s0 (class 1's leaves +w, class 0's −w), through LOGISTIC, which ONNX
  // Runtime writes as [σ(−m), σ(m)] when the weights have mixed signs: a guard tree below ensures they do.
  const binary = classification && numClass === 2;
  const nodes = {
    treeIds: [] as number[], nodeIds: [] as number[], featureIds: [] as number[], modes: [] as string[], values: [] as number[],
    trueIds: [] as number[], falseIds: [] as number[], missingTracksTrue: [] as number[],
  };
  const leaves = { treeIds: [] as number[], nodeIds: [] as number[], targetIds: [] as number[], weights: [] as number[] };
  trees.forEach((tree, treeId) => {
    for (let node = 0; node < tree.left_children.length; node++) {
      const isLeaf = tree.left_children[node] === -1;
      nodes.treeIds.push(treeId);
      nodes.nodeIds.push(node);
      nodes.featureIds.push(isLeaf ? 0 : tree.split_indices[node]);
      nodes.modes.push(isLeaf ? 'LEAF' : 'BRANCH_LT');
      nodes.values.push(isLeaf ? 0 : tree.split_conditions[node]);
      nodes.trueIds.push(isLeaf ? 0 : tree.left_children[node]);
      nodes.falseIds.push(isLeaf ? 0 : tree.right_children[node]);
      nodes.missingTracksTrue.push(isLeaf ? 0 : tree.default_left[node] ? 1 : 0);
      if (isLeaf) {
        // For leaves XGBoost stores the leaf value in split_conditions.
        leaves.treeIds.push(treeId);
        leaves.nodeIds.push(node);
        leaves.targetIds.push(classification && !binary ? treeInfo[treeId] : 0);
        leaves.weights.push(binary && treeInfo[treeId] === 0 ? -Math.fround(tree.split_conditions[node]) : tree.split_conditions[node]);
      }
    }
  });

  if (binary) {
    // the guard tree: its root sends every row (x < NaN is false, and a missing x follows false) to a
    // leaf of weight 0; the unreachable leaf's weight −1 makes the weights' signs mixed
    const treeId = trees.length;
    const guard = [
      { node: 0, mode: 'BRANCH_LT', value: NaN, trueId: 1, falseId: 2 },
      { node: 1, mode: 'LEAF', value: 0, trueId: 0, falseId: 0, weight: -1 },
      { node: 2, mode: 'LEAF', value: 0, trueId: 0, falseId: 0, weight: 0 },
    ];
    for (const g of guard) {
      nodes.treeIds.push(treeId);
      nodes.nodeIds.push(g.node);
      nodes.featureIds.push(0);
      nodes.modes.push(g.mode);
      nodes.values.push(g.value);
      nodes.trueIds.push(g.trueId);
      nodes.falseIds.push(g.falseId);
      nodes.missingTracksTrue.push(0);
      if (g.weight !== undefined) {
        leaves.treeIds.push(treeId);
        leaves.nodeIds.push(g.node);
        leaves.targetIds.push(0);
        leaves.weights.push(g.weight);
      }
    }
  }

  const nodeAttributes: Attribute[] = [
    { name: 'nodes_treeids', ints: nodes.treeIds },
    { name: 'nodes_nodeids', ints: nodes.nodeIds },
    { name: 'nodes_featureids', ints: nodes.featureIds },
    { name: 'nodes_modes', strings: nodes.modes },
    { name: 'nodes_values', floats: nodes.values },
    { name: 'nodes_truenodeids', ints: nodes.trueIds },
    { name: 'nodes_falsenodeids', ints: nodes.falseIds },
    { name: 'nodes_missing_value_tracks_true', ints: nodes.missingTracksTrue },
  ];
  const attributes: Attribute[] = classification
    ? [
        ...nodeAttributes,
        { name: 'class_treeids', ints: leaves.treeIds },
        { name: 'class_nodeids', ints: leaves.nodeIds },
        { name: 'class_ids', ints: leaves.targetIds },
        { name: 'class_weights', floats: leaves.weights },
        { name: 'classlabels_int64s', ints: Array.from({ length: numClass }, (_, i) => i) },
        ...(binary
          ? [{ name: 'post_transform', string: 'LOGISTIC' }]
          : [
              { name: 'base_values', floats: new Array(numClass).fill(baseScore) },
              { name: 'post_transform', string: 'SOFTMAX' },
            ]),
      ]
    : [
        ...nodeAttributes,
        { name: 'target_treeids', ints: leaves.treeIds },
        { name: 'target_nodeids', ints: leaves.nodeIds },
        { name: 'target_ids', ints: leaves.targetIds },
        { name: 'target_weights', floats: leaves.weights },
        { name: 'n_targets', int: 1 },
        { name: 'base_values', floats: [baseScore] },
        { name: 'aggregate_function', string: 'SUM' },
        { name: 'post_transform', string: 'NONE' },
      ];

  const model_ = new ProtoWriter();
  model_.int(1, 8); // ir_version 8
  model_.string(2, 'candlelab');
  model_.string(3, options.producerVersion ?? '0');
  model_.message(7, (graph) => {
    graph.message(1, (node) => {
      node.string(1, ONNX_INPUT);
      if (classification) node.string(2, ONNX_LABEL_OUTPUT).string(2, ONNX_PROBABILITIES_OUTPUT);
      else node.string(2, ONNX_VALUE_OUTPUT);
      node.string(3, 'xgboost_trees');
      node.string(4, classification ? 'TreeEnsembleClassifier' : 'TreeEnsembleRegressor');
      for (const attribute of attributes) writeAttribute(node, attribute);
      node.string(7, 'ai.onnx.ml');
    });
    graph.string(2, 'xgboost');
    writeTensorInfo(graph, 11, ONNX_INPUT, FLOAT, ['N', numFeatures]);
    if (classification) {
      writeTensorInfo(graph, 12, ONNX_LABEL_OUTPUT, INT64, ['N']);
      writeTensorInfo(graph, 12, ONNX_PROBABILITIES_OUTPUT, FLOAT, ['N', numClass]);
    } else {
      writeTensorInfo(graph, 12, ONNX_VALUE_OUTPUT, FLOAT, ['N', 1]);
    }
  });
  model_.message(8, (opset) => opset.string(1, '').int(2, 15));
  model_.message(8, (opset) => opset.string(1, 'ai.onnx.ml').int(2, 3));
  for (const [key, value] of Object.entries(options.metadata ?? {})) model_.message(14, (entry) => entry.string(1, key).string(2, value));
  return model_.finish();
}
