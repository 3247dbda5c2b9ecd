import t from 'tap';
import { FrameType, isDataFrame, isKnownFrame, isStringFrame } from '../../src/protocol/constants.js';

t.test('legacy frame numbers are those of k8psh 1.x', async (t) => {
  t.same(
    [
      FrameType.WORKING_DIRECTORY,
      FrameType.ENVIRONMENT_VARIABLE,
      FrameType.COMMAND_ARGUMENT,
      FrameType.START_COMMAND,
      FrameType.STDIN_DATA,
      FrameType.STDOUT_DATA,
      FrameType.STDERR_DATA,
      FrameType.TERMINATE_COMMAND,
      FrameType.EXIT_CODE,
    ],
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
  );
  t.ok(isStringFrame(FrameType.START_COMMAND));
  t.notOk(isStringFrame(FrameType.TERMINATE_COMMAND));
  t.notOk(isStringFrame(FrameType.EXIT_CODE));
  t.ok(isDataFrame(FrameType.STDOUT_DATA));
  t.notOk(isKnownFrame(9));
  t.ok(isKnownFrame(FrameType.WINDOW_SIZE));
});
