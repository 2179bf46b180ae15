// Command packaging-check validates the project's container and deployment packaging with
// the libraries the real tools are built on, so a file that passes here is one those tools
// accept, without a Docker engine or a cluster:
//
//	compose [FILE]      docker-compose.yml through compose-go (the loader of Docker Compose):
//	                    schema, interpolation, normalisation and consistency checks; every
//	                    bind-mount source and build context must exist. Prints the normalised
//	                    project as JSON.
//	dockerfile [FILE]   Dockerfile through BuildKit's parser and its build-check linter (the
//	                    rules of `docker build --check`, all stages); every COPY source must
//	                    survive .dockerignore. Prints the stages and instructions as JSON.
//	kustomize [DIR]     `kustomize build DIR` in-process (sigs.k8s.io/kustomize/api/krusty)
//	                    with the load restrictor off (deploy/ generates ConfigMaps from
//	                    ../policies). Prints the manifests as YAML.
//	all                 the three above on their default paths, printing only a summary.
//
// Paths are relative to -C (default: the current directory). Any error, and any warning of
// the underlying library, fails the command: exit status 1, the reasons on stderr. Usage
// errors exit 2.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	pb "github.com/moby/buildkit/solver/pb"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	digest "github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const usage = `usage: packaging-check [-C DIR] COMMAND [PATH]

commands:
  compose [FILE]     load a Compose file with compose-go (default docker-compose.yml); print it as JSON
  dockerfile [FILE]  parse and lint a Dockerfile with BuildKit (default Dockerfile); print it as JSON
  kustomize [DIR]    kustomize build, load restrictor off (default deploy); print the YAML
  all                run the three on their defaults; print a summary
`

func main() {
	flags := flag.NewFlagSet("packaging-check", flag.ContinueOnError)
	flags.SetOutput(os.Stderr)
	flags.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	root := flags.String("C", ".", "directory the paths are relative to (the repository root)")
	if err := flags.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	args := flags.Args()
	if len(args) == 0 || len(args) > 2 {
		flags.Usage()
		os.Exit(2)
	}
	command, path := args[0], ""
	if len(args) == 2 {
		path = args[1]
	}

	var out []byte
	var err error
	ctx := context.Background()
	switch command {
	case "compose":
		out, err = checkCompose(ctx, *root, orDefault(path, "docker-compose.yml"))
	case "dockerfile":
		out, err = checkDockerfile(ctx, *root, orDefault(path, "Dockerfile"))
	case "kustomize":
		out, err = checkKustomize(*root, orDefault(path, "deploy"))
	case "all":
		if path != "" {
			flags.Usage()
			os.Exit(2)
		}
		out, err = checkAll(ctx, *root)
	default:
		fmt.Fprintf(os.Stderr, "packaging-check: unknown command %q\n\n", command)
		flags.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "packaging-check %s: %v\n", command, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}

func orDefault(value, fallback string) string {
	if value == "" {
		return fallback
	}
	return value
}

func checkAll(ctx context.Context, root string) ([]byte, error) {
	var summary bytes.Buffer
	var failed []error
	run := func(name string, check func() ([]byte, error)) {
		if _, err := check(); err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", name, err))
			fmt.Fprintf(&summary, "%-10s FAIL\n", name)
			return
		}
		fmt.Fprintf(&summary, "%-10s ok\n", name)
	}
	run("compose", func() ([]byte, error) { return checkCompose(ctx, root, "docker-compose.yml") })
	run("dockerfile", func() ([]byte, error) { return checkDockerfile(ctx, root, "Dockerfile") })
	run("kustomize", func() ([]byte, error) { return checkKustomize(root, "deploy") })
	if len(failed) > 0 {
		os.Stdout.Write(summary.Bytes())
		return nil, errors.Join(failed...)
	}
	return summary.Bytes(), nil
}

// --- compose -------------------------------------------------------------------------

// warningHook collects what compose-go logs at warning level (an obsolete `version:`, an
// unset variable, a deprecated attribute): for this check a warning is a failure.
type warningHook struct {
	mu       sync.Mutex
	messages []string
}

func (h *warningHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h *warningHook) Fire(entry *logrus.Entry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.messages = append(h.messages, entry.Message)
	return nil
}

func checkCompose(ctx context.Context, root, file string) ([]byte, error) {
	hook := &warningHook{}
	logrus.SetOutput(io.Discard)
	logrus.AddHook(hook)
	defer logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{})

	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	// No OS environment and no .env: the file must stand on its own, the same on every
	// machine (a variable without a default then shows up as an "is not set" warning).
	options, err := cli.NewProjectOptions(
		[]string{filepath.Join(absRoot, file)},
		cli.WithWorkingDirectory(absRoot),
		cli.WithEnv(nil),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return nil, err
	}
	project, err := options.LoadProject(ctx)
	if err != nil {
		return nil, err
	}
	if len(hook.messages) > 0 {
		return nil, fmt.Errorf("compose-go warnings:\n  %s", strings.Join(hook.messages, "\n  "))
	}
	if err := checkComposePaths(project); err != nil {
		return nil, err
	}
	out, err := project.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// checkComposePaths catches what Compose only notices at `up`: a build context that is not
// there, or a bind-mount source that Docker would silently create as an empty directory.
func checkComposePaths(project *types.Project) error {
	var problems []string
	for _, name := range project.ServiceNames() {
		service := project.Services[name]
		if service.Build != nil {
			if info, err := os.Stat(service.Build.Context); err != nil || !info.IsDir() {
				problems = append(problems, fmt.Sprintf("service %s: build context %s is not a directory", name, service.Build.Context))
			}
		}
		for _, volume := range service.Volumes {
			if volume.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(volume.Source); err != nil {
				problems = append(problems, fmt.Sprintf("service %s: bind-mount source %s does not exist", name, volume.Source))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// --- dockerfile ----------------------------------------------------------------------

// offlineResolver answers BuildKit's base-image lookups without a registry: a Linux image
// with the usual PATH. Only the lint needs the answer (the rules that look at the base
// image's environment); nothing is pulled or built.
type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},` +
		`"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}}`)
	return ref, digest.FromBytes(config), config, nil
}

type dockerfileReport struct {
	File   string  `json:"file"`
	Stages []stage `json:"stages"`
}

type stage struct {
	Name         string        `json:"name"`
	Base         string        `json:"base"`
	Instructions []instruction `json:"instructions"`
}

// instruction is one Dockerfile instruction after parsing; the fields that do not apply
// to its kind are left out.
type instruction struct {
	Name     string   `json:"name"`
	Line     int      `json:"line"`
	Original string   `json:"original"`
	Sources  []string `json:"sources,omitempty"`      // COPY, ADD
	Dest     string   `json:"dest,omitempty"`         // COPY, ADD
	From     string   `json:"from,omitempty"`         // COPY --from
	Args     []string `json:"args,omitempty"`         // RUN, CMD, ENTRYPOINT, HEALTHCHECK test
	Shell    *bool    `json:"shell_form,omitempty"`   // RUN, CMD, ENTRYPOINT
	Env      []kv     `json:"env,omitempty"`          // ENV, LABEL
	Value    string   `json:"value,omitempty"`        // USER, WORKDIR
	Ports    []string `json:"ports,omitempty"`        // EXPOSE
	Volumes  []string `json:"volumes,omitempty"`      // VOLUME
	Interval string   `json:"interval,omitempty"`     // HEALTHCHECK
	Timeout  string   `json:"timeout,omitempty"`      // HEALTHCHECK
	Retries  int      `json:"retries,omitempty"`      // HEALTHCHECK
	Start    string   `json:"start_period,omitempty"` // HEALTHCHECK
}

type kv struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func checkDockerfile(ctx context.Context, root, file string) ([]byte, error) {
	path := filepath.Join(root, file)
	dt, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}

	// The lint of `docker build --check`: parser, instruction parsing and every stage's
	// dispatch, with the rules' warnings collected.
	sourceMap := llb.NewSourceMap(nil, file, "Dockerfile", dt)
	sourceMap.Definition = &llb.Definition{}
	results, err := dockerfile2llb.DockerfileLint(ctx, dt, dockerfile2llb.ConvertOpt{
		SourceMap:    sourceMap,
		MetaResolver: offlineResolver{},
	})
	if err != nil {
		return nil, err
	}
	var problems []string
	if results.Error != nil {
		problems = append(problems, fmt.Sprintf("%s:%d: %s", file, firstLine(results.Error.Location.Ranges), results.Error.Message))
	}
	for _, w := range results.Warnings {
		line := 0
		if w.Location != nil {
			line = firstLine(w.Location.Ranges)
		}
		problems = append(problems, fmt.Sprintf("%s:%d: %s: %s (%s)", file, line, w.RuleName, w.Detail, w.URL))
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}

	result, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return nil, err
	}
	stages, _, err := instructions.Parse(result.AST, nil)
	if err != nil {
		return nil, err
	}
	report := dockerfileReport{File: file}
	var contextSources []string
	for _, st := range stages {
		s := stage{Name: st.Name, Base: st.BaseName, Instructions: []instruction{}}
		for _, command := range st.Commands {
			in := describe(command)
			s.Instructions = append(s.Instructions, in)
			if (in.Name == "copy" || in.Name == "add") && in.From == "" {
				contextSources = append(contextSources, in.Sources...)
			}
		}
		report.Stages = append(report.Stages, s)
	}
	if err := checkDockerignore(filepath.Dir(path), contextSources); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func firstLine(ranges []*pb.Range) int {
	if len(ranges) == 0 || ranges[0] == nil || ranges[0].Start == nil {
		return 0
	}
	return int(ranges[0].Start.Line)
}

func describe(command instructions.Command) instruction {
	in := instruction{Name: strings.ToLower(command.Name())}
	if located, ok := command.(interface{ Location() []parser.Range }); ok {
		if loc := located.Location(); len(loc) > 0 {
			in.Line = loc[0].Start.Line
		}
	}
	if s, ok := command.(fmt.Stringer); ok {
		in.Original = s.String()
	}
	shell := func(c instructions.ShellDependantCmdLine) {
		in.Args = c.CmdLine
		in.Shell = &c.PrependShell
	}
	switch c := command.(type) {
	case *instructions.CopyCommand:
		in.Sources, in.Dest, in.From = c.SourcePaths, c.DestPath, c.From
	case *instructions.AddCommand:
		in.Sources, in.Dest = c.SourcePaths, c.DestPath
	case *instructions.RunCommand:
		shell(c.ShellDependantCmdLine)
	case *instructions.CmdCommand:
		shell(c.ShellDependantCmdLine)
	case *instructions.EntrypointCommand:
		shell(c.ShellDependantCmdLine)
	case *instructions.EnvCommand:
		for _, pair := range c.Env {
			in.Env = append(in.Env, kv{pair.Key, pair.Value})
		}
	case *instructions.LabelCommand:
		for _, pair := range c.Labels {
			in.Env = append(in.Env, kv{pair.Key, pair.Value})
		}
	case *instructions.UserCommand:
		in.Value = c.User
	case *instructions.WorkdirCommand:
		in.Value = c.Path
	case *instructions.ExposeCommand:
		in.Ports = c.Ports
	case *instructions.VolumeCommand:
		in.Volumes = c.Volumes
	case *instructions.HealthCheckCommand:
		if c.Health != nil {
			in.Args = c.Health.Test
			in.Interval, in.Timeout = c.Health.Interval.String(), c.Health.Timeout.String()
			in.Start, in.Retries = c.Health.StartPeriod.String(), c.Health.Retries
		}
	}
	return in
}

// checkDockerignore fails when .dockerignore would keep a COPY source out of the build
// context: the build would then fail (or copy less) only on a machine with Docker.
func checkDockerignore(contextDir string, sources []string) error {
	f, err := os.Open(filepath.Join(contextDir, ".dockerignore"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return err
	}
	matcher, err := patternmatcher.New(patterns)
	if err != nil {
		return err
	}
	var problems []string
	for _, source := range sources {
		clean := filepath.Clean(strings.TrimPrefix(source, "/"))
		excluded, err := matcher.MatchesOrParentMatches(clean)
		if err != nil {
			return err
		}
		if excluded {
			problems = append(problems, fmt.Sprintf("COPY source %s is excluded by .dockerignore", source))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// --- kustomize -----------------------------------------------------------------------

func checkKustomize(root, dir string) ([]byte, error) {
	options := krusty.MakeDefaultOptions()
	// deploy/kustomization.yaml generates the OPA ConfigMaps from ../policies and
	// ../opa: the same as `kustomize build --load-restrictor LoadRestrictionsNone`.
	options.LoadRestrictions = kustypes.LoadRestrictionsNone
	// The kustomization's sortOptions, else the legacy order (Namespace first, then
	// ServiceAccounts, RBAC, ConfigMaps, ..., Deployments): what `kustomize build` prints.
	options.Reorder = krusty.ReorderOptionUnspecified
	resources, err := krusty.MakeKustomizer(options).Run(filesys.MakeFsOnDisk(), filepath.Join(root, dir))
	if err != nil {
		return nil, err
	}
	return resources.AsYaml()
}
