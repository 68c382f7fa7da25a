using System.CommandLine;
using Redraft.Cli;
using Redraft.Cli.Commands;

var root = new RootCommand("Redraft: a local Stable Diffusion studio for rapid iteration.")
{
    GenerateCommands.Txt2Img(),
    GenerateCommands.Img2Img(),
    InfoCommand.Create(),
    TokenizeCommand.Create(),
    MakeModelCommand.Create(),
    SamplersCommand.Create(),
    BenchCommand.Create(),
    ServeCommand.Create(),
    WorkerCommand.Create(),
    ModelsCommand.Create(),
    Redraft.Cli.Commands.Doc.DocCommands.Create(),
};
return await CliRunner.RunAsync(root, args);
