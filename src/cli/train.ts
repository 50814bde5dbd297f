import { runMain } from './runMain';
import { trainCommand } from './trainCommand';

runMain(trainCommand);
